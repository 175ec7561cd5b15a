"""GPU A/B of the Triton linear_scan variants, old against new, in one process (one H100).

Measures the device copy bandwidth, then for each case checks every candidate's outputs and
gradients (a, b, h0; with resets and an h0, forward and reverse) against the current default
kernel ("old") at the benchmark shape, and times old, the candidates and accelerated-scan's
Triton kernel (long shapes). Cases, in priority order (a time budget skips the tail):

1. bf16 and fp32 video (B=8, T=300, S=(256,16,16)), a time-invariant and time-varying: the
   default tiles against prefetching tiles (``scan_config(prefetch=True)``).
2. bf16 and fp32 B=8, C=1536, T=65536 and 16384: the old single pass and chunked tiles against
   prefetching single-pass tiles; accelerated-scan's Triton kernel as the peer.

Output: JSON (``--out``) with the card, copy bandwidth, every check and timing, and per case the
fastest candidate that passed its check. Pick defaults in kernels/linear_scan/triton_tiles.py
(``SINGLE_FWD``/``SINGLE_BWD``, the prefetch defaults, ``AUTO_CHUNKED``) from it.

Usage: ``python3 -P benchmarks/gpu/linear_scan_variants.py --out /tmp/res/lsv.json``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from worldssm.kernels.bench_timing import time_call
from worldssm.kernels.benchmark import _min_bytes, copy_bandwidth, environment
from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import scan_config

DEV = torch.device("cuda")
VIDEO = (8, 300, (256, 16, 16))
LONG = (8, 1536)
SMOKE = False  # --smoke: tiny shapes and tiles on the CPU interpreter (tests the script only)
# A candidate: (name, scan_config kwargs). "old" is the current default path.
OLD = ("old default", {})


def inputs(shape, dtype, a_const, seed=0):
    bsz, length, state = shape
    g = torch.Generator(DEV).manual_seed(seed)
    full = (bsz, length, *state)
    ashape = (1, 1, *state) if a_const else full
    if dtype == torch.complex64:
        mag = torch.rand(ashape, device=DEV, generator=g) * 0.5 + 0.5
        a = torch.polar(mag, torch.rand(ashape, device=DEV, generator=g) * 6.28)
        b = torch.randn(full, device=DEV, generator=g, dtype=dtype)
    else:
        a = (torch.rand(ashape, device=DEV, generator=g) * 0.5 + 0.5).to(dtype)
        b = torch.randn(full, device=DEV, generator=g).to(dtype)
    return a, b


def outputs_and_grads(kw, a, b, reverse=False, extras=False, backend="triton", seed=1):
    """h, final and grads of a, b (and h0) under candidate ``kw``.

    ``extras``: with resets, an h0 and its gradient (other kernel specialisations, so other
    compiles: only for the main candidates). Without, the kernels are the ones timed.
    """
    g = torch.Generator(DEV).manual_seed(seed)
    h0 = torch.randn(b[:, 0].shape, device=DEV, generator=g).to(b.dtype) if extras else None
    reset = torch.rand(b.shape[:2], device=DEV, generator=g) < 0.01 if extras else None
    leaves = [x.detach().requires_grad_() for x in (a, b, h0) if x is not None]
    with scan_config(**kw):
        h, last = linear_scan(*leaves[:2], h0=h0 if h0 is None else leaves[2], reset=reset,
                              reverse=reverse, return_final=True, backend=backend)  # fmt: skip
        w = torch.randn(h.shape, device=DEV, generator=g).to(h.dtype)
        grads = torch.autograd.grad((h, last), leaves, (w, torch.ones_like(last)))
    return [h.detach(), last.detach(), *grads]


def rel(x, r):
    x, r = x.to(torch.complex64 if x.is_complex() else torch.float32), r.to(x.dtype)
    return ((x - r).abs().norm() / r.abs().norm().clamp_min(1e-30)).item()


def check(kw, a, b, ref, full):
    """Max relative error of h, final and the grads against the old kernel's (``ref``).

    ``full``: also with resets, h0 and its gradient, forward and reverse.
    """
    err = max(rel(x, r) for x, r in zip(outputs_and_grads(kw, a, b), ref, strict=True))
    for reverse in (False, True) if full else ():
        got = outputs_and_grads(kw, a, b, reverse, True)
        old = outputs_and_grads(OLD[1], a, b, reverse, True)
        err = max(err, *(rel(x, r) for x, r in zip(got, old, strict=True)))
        del got, old
    return err


def timed(kw, a, b, backward):
    """Closure running linear_scan (and its backward) under candidate ``kw``."""
    if not backward:

        def run():
            with scan_config(**kw), torch.no_grad():
                return linear_scan(a, b)

        return run
    leaves = [x.detach().requires_grad_() for x in (a, b)]
    grad_out = torch.ones_like(b)  # made once: the fill is not the scan's work

    def run_bwd():
        with scan_config(**kw):
            for x in leaves:
                x.grad = None
            linear_scan(*leaves).backward(grad_out)

    return run_bwd


def peer_accelerated(a, b, backward):
    """accelerated-scan's Triton kernel in its (B, C, T) layout (full a), or None."""
    try:
        from accelerated_scan.scalar import scan

        from worldssm.kernels.bench_peers import _to_bct
    except Exception:  # noqa: BLE001 - a missing peer is reported, not raised
        return None
    gates, x = _to_bct(a, b)
    if not backward:
        return lambda: scan(gates, x)
    leaves = [gates.requires_grad_(), x.requires_grad_()]

    def run():
        for t in leaves:
            t.grad = None
        out = scan(*leaves)
        out.backward(torch.ones_like(out))

    return run


class Report:
    def __init__(self, out, budget_s):
        self.out, self.t0, self.budget = out, time.time(), budget_s
        self.data = {**environment(DEV), "checks": [], "results": [], "best": {}}

    def over(self):
        return time.time() - self.t0 > self.budget

    def save(self):
        self.data["elapsed_s"] = round(time.time() - self.t0, 1)
        if self.out:
            with open(self.out + ".tmp", "w") as f:
                json.dump(self.data, f, indent=1)
            os.replace(self.out + ".tmp", self.out)


def run_case(rep, label, shape, dtype, a_const, modes, candidates, tol, peer=False, full=()):
    """Check and time every candidate for one (shape, dtype, a) over ``modes`` (fwd, fwd+bwd).

    Candidates named in ``full`` are also checked with resets, h0 and reverse.
    """
    if rep.over():
        rep.data["results"].append({"case": label, "skipped": "time budget"})
        return
    a, b = inputs(shape, dtype, a_const)
    passed = {}
    ref = outputs_and_grads(OLD[1], a, b)
    for name, kw in candidates:
        if name == OLD[0] or rep.over():
            passed[name] = name == OLD[0]
            continue
        try:
            err = check(kw, a, b, ref, name in full)
            ok = err < tol
        except Exception as e:  # noqa: BLE001 - a failing candidate is a result
            err, ok = f"{type(e).__name__}: {str(e)[:200]}", False
        passed[name] = ok
        rep.data["checks"].append({"case": label, "impl": name, "rel_err": err, "pass": ok})
        print(f"check {label:40} {name:48} {err} {'ok' if ok else 'FAIL'}", flush=True)
    del ref
    torch.cuda.empty_cache()
    elsize = b.element_size()
    for backward in modes:
        mode = "fwd+bwd" if backward else "fwd"
        nbytes = _min_bytes(b.numel(), elsize, a_const, backward)
        impls = [(n, timed(kw, a, b, backward)) for n, kw in candidates if passed.get(n)]
        if peer:
            fn = peer_accelerated(a.expand_as(b) if a_const else a, b, backward)
            if fn is not None:
                impls.append(("accelerated-scan triton (full a)", fn))
        best = None
        for name, fn in impls:
            if rep.over():
                rep.data["results"].append({"case": f"{label} {mode}", "impl": name,
                                            "skipped": "time budget"})  # fmt: skip
                continue
            try:
                ms, how = time_call(fn, DEV, reps=12)
            except Exception as e:  # noqa: BLE001
                msg = f"{type(e).__name__}: {str(e)[:200]}"
                rep.data["results"].append({"case": f"{label} {mode}", "impl": name,
                                            "error": msg})  # fmt: skip
                torch.cuda.empty_cache()
                continue
            frac = nbytes / (ms * 1e-3) / 1e9 / rep.data["copy_bandwidth_GBps"]
            rep.data["results"].append({"case": f"{label} {mode}", "impl": name, "ms": ms,
                                        "frac_copy_bw": frac, "timing": how})  # fmt: skip
            print(f"{label:40} {mode:8} {name:52} {ms:8.3f} ms {100 * frac:5.1f}%", flush=True)
            if not name.startswith("accelerated") and (best is None or ms < best[1]):
                best = (name, ms, frac)
        if best:
            rep.data["best"][f"{label} {mode}"] = best
        rep.save()
    del a, b
    torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--budget", type=float, default=165.0, help="seconds before skipping cases")
    p.add_argument("--smoke", action="store_true", help="CPU interpreter, tiny shapes")
    p.add_argument("--bwd-sweep", action="store_true", help="bf16 a time-invariant, bwd tiles")
    # Batch 25's short processes timed the same forward 1.5x slower than a long one (run 17).
    p.add_argument("--warmup", type=float, default=0.0,
                   help="seconds of default fwd+bwd at the video shape before timing")  # fmt: skip
    args = p.parse_args()
    if args.smoke:
        global DEV, VIDEO, LONG, SMOKE
        assert os.environ.get("TRITON_INTERPRET") == "1", "--smoke needs TRITON_INTERPRET=1"
        DEV, VIDEO, LONG, SMOKE = torch.device("cpu"), (2, 7, (2, 3, 4)), (2, 8), True
    rep = Report(args.out, args.budget)
    if args.warmup > 0:
        a, b = inputs(VIDEO, torch.bfloat16, True)
        run, t_end = timed({}, a, b, True), time.time() + args.warmup
        while time.time() < t_end:
            run()
        torch.cuda.synchronize() if DEV.type == "cuda" else None
        del a, b, run
    bw = copy_bandwidth(DEV, 64 << 20 if SMOKE else 2 << 30)
    rep.data["copy_bandwidth_GBps"] = bw
    print(f"copy bandwidth {bw:.0f} GB/s", flush=True)
    both = (False, True)

    # Run 20 timed forced *backward* tiles that never ran: autograd runs CUDA backwards on its
    # own thread, which did not see scan_config (fixed: the forward hands its config over).
    # Candidates: (fwd tile, fwd prefetch, bwd tile, bwd prefetch). In-thread tiles (lanes and
    # warps along the columns only) with the one-tile prefetch; ptxas (sm_90a, Triton 3.6):
    # bf16 bwd a time-invariant (1, 256, 1) 64 registers, (2, 256, 1) 115, (4, 256, 1) 168, no
    # spills; the old default (32, 128, 1) has 808 shuffles and 512 B of spills.
    def cand(variant, fwd, fpf, bwd, bpf):
        kw = {"variant": variant, "tile": fwd, "bwd_tile": bwd, "prefetch": fpf,
              "bwd_prefetch": bpf}  # fmt: skip
        if SMOKE:
            kw.update(tile=(4, 16, 1), bwd_tile=(2, 16, 1))
        name = f"{variant} fwd {fwd}{' pf' if fpf else ''} bwd {bwd}{' pf' if bpf else ''}"
        return name, kw

    bf16_fwd = {True: ((8, 256, 1), True), False: ((32, 128, 1), False)}
    fp32_fwd = {True: ((16, 256, 2), False), False: ((16, 256, 2), False)}
    bf16_bwd = [((1, 256, 1), True), ((2, 256, 1), True), ((4, 256, 1), True),
                ((2, 512, 2), True), ((4, 256, 1), False), ((16, 256, 2), False)]  # fmt: skip
    if args.bwd_sweep:  # batches 25-27: backward tiles around batch 22's winner, +- prefetch
        bf16_bwd = [((t, n, n // 256), pf) for t in (1, 2, 4, 8) for n in (256, 512)
                    for pf in (False, True)]  # fmt: skip
    fp32_bwd = [((2, 128, 1), True), ((4, 128, 1), True), ((4, 256, 2), True),
                ((8, 128, 1), True), ((16, 256, 2), False)]  # fmt: skip
    for dtype, tol, fwd, bwds in ((torch.bfloat16, 2e-2, bf16_fwd, bf16_bwd),
                                  (torch.float32, 1e-4, fp32_fwd, fp32_bwd)):  # fmt: skip
        for a_const, tag in ((True, "ti"), (False, "tv")):
            cs = [OLD] + [cand("single", *fwd[a_const], t, pf) for t, pf in bwds]
            name = "bf16" if dtype == torch.bfloat16 else "fp32"
            if args.bwd_sweep and (name, tag) != ("bf16", "ti"):
                continue
            run_case(rep, f"{name} video a {tag}", VIDEO, dtype, a_const, both, cs, tol,
                     full={c[0] for c in cs[1:3]})  # fmt: skip

    # 2. long and narrow (12,288 columns): the old single pass and chunked (whose backward
    # now really runs chunked), the prefetching forward (64, 32, 1) with backward tiles.
    long_bwd = [((64, 32, 1), True), ((32, 32, 1), True), ((64, 32, 2), True),
                ((64, 32, 2), False)]  # fmt: skip
    for dtype, tol in () if args.bwd_sweep else ((torch.float32, 1e-4), (torch.bfloat16, 2e-2)):
        for length in (65536, 16384):
            for a_const, tag in ((False, "tv"), (True, "ti")):
                cs = [OLD, ("old chunked (128, 32, 4)", {"variant": "chunked"})]
                cs += [cand("single", (64, 32, 1), True, t, pf) for t, pf in long_bwd]
                t_len = length // 1024 if SMOKE else length
                name = "bf16" if dtype == torch.bfloat16 else "fp32"
                full = {cs[1][0], cs[2][0]} if length == 16384 else ()
                run_case(rep, f"{name} B={LONG[0]} C={LONG[1]} T={t_len} a {tag}",
                         (LONG[0], t_len, (LONG[1],)), dtype, a_const, both, cs, tol,
                         peer=True, full=full)  # fmt: skip

    failed = [c for c in rep.data["checks"] if not c["pass"]]
    rep.data["failed_checks"] = failed
    rep.save()
    print("\nfastest passing candidate per case:")
    for case, (name, ms, frac) in rep.data["best"].items():
        print(f"  {case:48} {name:52} {ms:8.3f} ms {100 * frac:5.1f}%")
    print(f"failed checks: {len(failed)}; elapsed {time.time() - rep.t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
