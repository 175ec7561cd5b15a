"""GPU A/B of the Triton linear_scan variants, old against new, in one process (one H100, < 3 min).

Measures the device copy bandwidth, then for each case checks every candidate's outputs and
gradients (a, b, h0; with resets and an h0, forward and reverse) against the current default
kernel ("old") at the benchmark shape, and times old, the candidates and accelerated-scan's
Triton kernel (bf16 long shapes). Cases, in priority order (a time budget skips the tail):

1. complex64 video (B=8, T=300, S=(256,16,16)): fwd tiles and bwd tiles with packed int64 I/O
   (``triton_tiles.COMPLEX_PACKED``) against the float32-pair I/O; plus the PyTorch path check.
2. bf16 video: backward tiles whose scan stays inside a thread (BLOCK_N = 256 x warps), a
   time-invariant and time-varying; forward tiles of the same kind.
3. fp32 video fwd / fwd+bwd with the defaults (regression guard: 94-97% / 81-87% before).
4. bf16 B=8, C=1536, T=16384 and 65536: single pass (old default) and chunked tiles, fwd and
   fwd+bwd, a time-varying and time-invariant; accelerated-scan's Triton kernel as the peer.

Output: JSON (``--out``) with the card, copy bandwidth, every check and timing, and per case the
fastest candidate that passed its check. Pick defaults in kernels/linear_scan/triton_tiles.py
(``COMPLEX_PACKED``, ``SINGLE_FWD``/``SINGLE_BWD``, ``CHUNKED_*``, ``AUTO_CHUNKED``) from it.

Usage: ``python3 -P benchmarks/gpu/linear_scan_variants.py --out /tmp/res/lsv.json``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from worldssm.kernels.benchmark import _min_bytes, _timeit, copy_bandwidth, environment
from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import scan_config

DEV = torch.device("cuda")
VIDEO = (8, 300, (256, 16, 16))
LONG = (8, 1536)
SMOKE = False  # --smoke: tiny shapes and tiles on the CPU interpreter (tests the script only)
# A candidate: (name, scan_config kwargs). "old" is the current default path (pair I/O).
OLD = ("old default", {"packed": False})


def cands(variant, tiles, fwd_tile=None, packed=None, bwd=False, prefix=""):
    """Candidates that force ``tiles`` for the forward, or for the backward (``bwd``)."""
    out = []
    for t in tiles:
        if SMOKE:  # the interpreter's cost grows with the tile, not with the work
            t, fwd_tile = (t[0] // 2, 8, 1), fwd_tile and (4, 8, 1)
        kw = {"variant": variant, "packed": packed}
        kw.update({"tile": fwd_tile, "bwd_tile": t} if bwd else {"tile": t, "bwd_tile": t})
        name = f"{prefix}{variant} {'bwd' if bwd else 'tile'} {t}"
        if bwd and fwd_tile:
            name += f" (fwd {fwd_tile})"
        out.append((name, kw))
    return out


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

    def run_bwd():
        with scan_config(**kw):
            for x in leaves:
                x.grad = None
            out = linear_scan(*leaves)
            out.backward(torch.ones_like(out))

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
                ms = _timeit(fn, DEV, reps=12)
            except Exception as e:  # noqa: BLE001
                msg = f"{type(e).__name__}: {str(e)[:200]}"
                rep.data["results"].append({"case": f"{label} {mode}", "impl": name,
                                            "error": msg})  # fmt: skip
                torch.cuda.empty_cache()
                continue
            frac = nbytes / (ms * 1e-3) / 1e9 / rep.data["copy_bandwidth_GBps"]
            rep.data["results"].append({"case": f"{label} {mode}", "impl": name, "ms": ms,
                                        "frac_copy_bw": frac})  # fmt: skip
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
    args = p.parse_args()
    if args.smoke:
        global DEV, VIDEO, LONG, SMOKE
        assert os.environ.get("TRITON_INTERPRET") == "1", "--smoke needs TRITON_INTERPRET=1"
        DEV, VIDEO, LONG, SMOKE = torch.device("cpu"), (2, 7, (2, 3, 4)), (2, 8), True
    rep = Report(args.out, args.budget)
    bw = copy_bandwidth(DEV, 64 << 20 if SMOKE else 2 << 30)
    rep.data["copy_bandwidth_GBps"] = bw
    print(f"copy bandwidth {bw:.0f} GB/s", flush=True)
    both = (False, True)

    # 1. complex64 video. The PyTorch path (a sequential loop here) checks old and packed once.
    a, b = inputs(VIDEO, torch.complex64, False)
    ref = outputs_and_grads({}, a, b, extras=True, backend="torch")
    for name, kw in (OLD, ("packed default tiles", {"packed": True})):
        got = outputs_and_grads(kw, a, b, extras=True)
        err = max(rel(x, r) for x, r in zip(got, ref, strict=True))
        rep.data["checks"].append({"case": "c64 video vs torch path", "impl": name,
                                   "rel_err": err, "pass": err < 1e-4})  # fmt: skip
        print(f"check c64 video vs torch path {name}: {err:.2e}", flush=True)
    del a, b, ref
    torch.cuda.empty_cache()
    # Packed I/O halves the forward's registers (254 -> 118 at (4, 256, 2), ptxas sm_90) and
    # the backward's loads from 104 4-byte to 26 16-byte ones a thread: wider tiles fit again.
    fwd_tiles = [(4, 256, 2), (8, 128, 2), (4, 128, 1), (2, 256, 1)]
    bwd_tiles = [(4, 256, 2), (4, 128, 2), (8, 128, 2), (4, 64, 1), (2, 128, 1)]
    c64 = [OLD, *cands("single", fwd_tiles, packed=True, prefix="packed ")]
    run_case(rep, "c64 video a tv, fwd tiles", VIDEO, torch.complex64, False, (False,), c64,
             1e-4, full={c64[1][0]})  # fmt: skip
    c64b = [OLD, ("pairs bwd (4, 256, 2)", {"packed": False, "tile": (4, 256, 2)})]
    c64b += cands("single", bwd_tiles, (4, 256, 2), packed=True, bwd=True, prefix="packed ")
    run_case(rep, "c64 video a tv, bwd tiles", VIDEO, torch.complex64, False, (True,), c64b,
             1e-4, full={c64b[2][0]})  # fmt: skip
    c64i = [OLD, *cands("single", bwd_tiles[:3], (4, 256, 2), packed=True, bwd=True,
                        prefix="packed ")]  # fmt: skip
    run_case(rep, "c64 video a ti", VIDEO, torch.complex64, True, both, c64i, 1e-4,
             full={c64i[1][0]})  # fmt: skip

    # 2. bf16 video. A bf16 load vectorises 8 columns a lane, so a warp spans 256 columns and
    # narrower tiles put lanes or warps along T: shuffles / shared memory in the scan, and the
    # old time-invariant bwd tile (32, 128, 1) spills (432 B of stack, ptxas sm_90). These
    # tiles keep the scan inside each thread: BLOCK_N = 256 x warps.
    bf_fwd = [(8, 256, 1), (8, 512, 2)]
    bf_bwd = [(4, 256, 1), (8, 256, 1), (4, 512, 2), (2, 256, 1)]
    for a_const, tag in ((True, "ti"), (False, "tv")):
        cs = [OLD, *cands("single", bf_fwd)]
        cs += cands("single", bf_bwd if a_const else bf_bwd[:3], None, bwd=True)
        run_case(rep, f"bf16 video a {tag}", VIDEO, torch.bfloat16, a_const, both, cs, 2e-2,
                 full={cs[3][0]})  # fmt: skip

    # 3. fp32 video: the defaults only (regression guard; the real kernels did not change).
    for a_const, tag in ((False, "tv"), (True, "ti")):
        run_case(rep, f"fp32 video a {tag}", VIDEO, torch.float32, a_const, both, [OLD], 1e-4)

    # 4. bf16 long and narrow: the chunked variant with rows of 64 B (old tile) up to 512 B.
    chunked = [(128, 32, 4), (128, 64, 4), (256, 64, 8), (64, 128, 4), (16, 256, 1)]
    long_c = [OLD, *cands("chunked", chunked)]
    for length in (16384, 65536):
        for a_const, tag in ((False, "tv"), (True, "ti")):
            t_len = length // 1024 if SMOKE else length
            run_case(rep, f"bf16 B={LONG[0]} C={LONG[1]} T={t_len} a {tag}",
                     (LONG[0], t_len, (LONG[1],)),
                     torch.bfloat16, a_const, both, long_c, 2e-2, peer=True,
                     full={long_c[2][0]} if length == 16384 else ())  # fmt: skip

    failed = [c for c in rep.data["checks"] if not c["pass"]]
    rep.data["failed_checks"] = failed
    rep.save()
    print("\nfastest passing candidate per case:")
    for case, (name, ms, frac) in rep.data["best"].items():
        print(f"  {case:48} {name:52} {ms:8.3f} ms {100 * frac:5.1f}%")
    print(f"failed checks: {len(failed)}; elapsed {time.time() - rep.t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
