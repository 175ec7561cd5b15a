"""Where the Triton linear_scan backward's time goes (one GPU, < 150 s): per-kernel device times.

At the video shape (B=8, T=300, S=(256,16,16)) the H100 run 1 of linear_scan_variants.py timed the
complex64 backward at ~5 ms whatever the tile or I/O (pairs or packed): ~1.3 TB/s against ~3 TB/s
for the real float32 backward; bf16 with a time-invariant a was slow too. This script separates:

- ``fwd``: the forward alone (no grad);
- ``fwd+bwd``: as kernels/benchmark.py times it (forward, ``ones_like`` of h, backward);
- ``bwd``: ``torch.autograd.grad`` on a retained graph with a fixed grad_h (backward alone);
- ``fill``: ``torch.ones_like(h)`` alone (the benchmark's grad_h);
- ``copy3``: a reference elementwise op reading 2 and writing 1 tensor of the same dtype;
- ``rev fwd`` / ``rev bwd``: the reverse scan (its backward walks time forwards): does the time
  direction matter?
- with the backward's one-tile load prefetch (``triton_scan.BWD_PREFETCH``) off (the code timed
  in run 1) and on (new default for complex64; bf16 tried with a small tile);
- per-kernel device times of one fwd+bwd step from torch.profiler (CUDA activity), with the bytes
  the backward kernel must move and the bandwidth that implies.

Every case is first checked against the PyTorch path (backend="torch") at a smaller batch.

Usage: ``python3 -P benchmarks/gpu/scan_bwd_profile.py --out /tmp/res/scan-bwd-profile.json``
(``--smoke`` with TRITON_INTERPRET=1: tiny shapes on CPU, tests the script only).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time

import torch

from worldssm.kernels.benchmark import _timeit, copy_bandwidth, environment
from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import scan_config

SCAN = importlib.import_module("worldssm.kernels.linear_scan.triton_scan")

DEV = torch.device("cuda")
VIDEO = (8, 300, (256, 16, 16))
CHECK_B = 2  # batch of the correctness check against the PyTorch path
SMOKE = False

# (label, dtype, a time-invariant, impls: name -> scan_config kwargs; "_prefetch" sets
# triton_scan.BWD_PREFETCH, the backward's one-tile load prefetch: None = complex only)
PAIRS = {"packed": False, "tile": (4, 256, 2), "bwd_tile": (16, 64, 2), "_prefetch": False}
C64 = {
    "pairs (old)": PAIRS,  # the code of H100 run 1's "old default"
    "packed no-pf": {"packed": True, "_prefetch": False},  # run 1's packed kernel, new tiles
    "packed+pf (new)": {"packed": True},
}
# Real dtypes: the default (no prefetch) against in-thread tiles (lanes and warps along the
# columns only) with the one-tile prefetch in both directions (scan_config(prefetch=True)).
BF16 = {
    "default": {},
    "bwd (4,256,1) no-pf": {"bwd_tile": (4, 256, 1), "_prefetch": False},
    **{
        f"pf {t}": {"tile": (8, 256, 1), "bwd_tile": t, "prefetch": True}
        for t in [(1, 256, 1), (2, 256, 1), (4, 256, 1), (2, 512, 2), (1, 512, 2)]
    },
}
CASES = [
    ("c64 a tv", torch.complex64, False, C64),
    ("c64 a ti", torch.complex64, True, C64),
    ("bf16 a ti", torch.bfloat16, True, BF16),
    ("bf16 a tv", torch.bfloat16, False, BF16),
    ("fp32 a tv", torch.float32, False, {"default": {}}),
    ("fp32 a ti", torch.float32, True, {"default": {}}),
]


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


def rel(x, r):
    x, r = x.to(torch.complex64 if x.is_complex() else torch.float32), r.to(x.dtype)
    return ((x - r).abs().norm() / r.abs().norm().clamp_min(1e-30)).item()


def check(kw, dtype, a_const):
    """Max relative error of h, da, db (with resets and h0) against the PyTorch path."""
    shape = (CHECK_B, *VIDEO[1:])
    a, b = inputs(shape, dtype, a_const, seed=3)
    g = torch.Generator(DEV).manual_seed(4)
    h0 = torch.randn(b[:, 0].shape, device=DEV, generator=g).to(dtype)
    reset = torch.rand(b.shape[:2], device=DEV, generator=g) < 0.01
    w = torch.randn(b.shape, device=DEV, generator=g).to(dtype)
    outs = []
    for backend in ("triton", "torch"):
        leaves = [x.detach().requires_grad_() for x in (a, b, h0)]
        with scan_config(**(kw if backend == "triton" else {})):
            h = linear_scan(*leaves[:2], h0=leaves[2], reset=reset, backend=backend)
            grads = torch.autograd.grad(h, leaves, w)
        outs.append([h.detach(), *grads])
    return max(rel(x, r) for x, r in zip(*outs, strict=True))


def closures(kw, a, b, reverse=False):
    """fwd, fwd+bwd (benchmark style), bwd alone (retained graph) and the ones_like fill."""

    def fwd():
        with scan_config(**kw), torch.no_grad():
            return linear_scan(a, b, reverse=reverse)

    leaves = [x.detach().requires_grad_() for x in (a, b)]

    def fwd_bwd():
        with scan_config(**kw):
            for x in leaves:
                x.grad = None
            out = linear_scan(*leaves, reverse=reverse)
            out.backward(torch.ones_like(out))

    with scan_config(**kw):
        out = linear_scan(*leaves, reverse=reverse)
    grad_h = torch.ones_like(out)

    def bwd():
        with scan_config(**kw):
            return torch.autograd.grad(out, leaves, grad_h, retain_graph=True)

    def fill():
        return torch.ones_like(grad_h)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd, "bwd": bwd, "fill": fill}, (out, grad_h)


def kernel_table(fn, steps=3):
    """Per-kernel device time (µs per step) of ``fn`` from torch.profiler; list of dicts."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEV.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        dev_us = getattr(e, "device_time_total", None)
        if dev_us is None:
            dev_us = getattr(e, "cuda_time_total", 0.0)
        # Kernels only: events with device time and no CPU-side child structure of their own.
        if dev_us <= 0 or e.key.startswith(("aten::", "autograd::", "cuda", "Torch", "Triton")):
            continue
        if e.key.endswith("Backward") or e.key.endswith("Backward0"):
            continue
        rows.append({"kernel": e.key[:90], "calls_per_step": e.count / steps,
                     "us_per_step": dev_us / steps})  # fmt: skip
    rows.sort(key=lambda r: -r["us_per_step"])
    return rows


def main():
    global DEV, VIDEO, CHECK_B, SMOKE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--budget", type=float, default=120.0, help="seconds before skipping cases")
    p.add_argument("--smoke", action="store_true", help="CPU interpreter, tiny shapes")
    p.add_argument("--cases", default="", help="comma-separated case labels (default: all)")
    args = p.parse_args()
    wanted = [c for c in args.cases.split(",") if c]
    if args.smoke:
        assert os.environ.get("TRITON_INTERPRET") == "1", "--smoke needs TRITON_INTERPRET=1"
        DEV, VIDEO, CHECK_B, SMOKE = torch.device("cpu"), (2, 5, (2, 4)), 1, True
        for _, _, _, impls in CASES:
            for kw in impls.values():
                if "packed" in kw or "bwd_tile" in kw:
                    kw.update(tile=(4, 8, 1), bwd_tile=(kw.get("bwd_tile", (4,))[0], 8, 1))
    t0 = time.time()
    data = {**environment(DEV), "checks": [], "results": [], "kernels": {}}

    def save():
        data["elapsed_s"] = round(time.time() - t0, 1)
        if args.out:
            with open(args.out + ".tmp", "w") as f:
                json.dump(data, f, indent=1)
            os.replace(args.out + ".tmp", args.out)

    bw = copy_bandwidth(DEV, 64 << 20 if SMOKE else 2 << 30)
    data["copy_bandwidth_GBps"] = bw
    print(f"copy bandwidth {bw:.0f} GB/s", flush=True)
    reps = 3 if SMOKE else 12
    for label, dtype, a_const, impls in CASES:
        if wanted and label not in wanted:
            continue
        if time.time() - t0 > args.budget:
            data["results"].append({"case": label, "skipped": "time budget"})
            print(f"{label}: skipped (time budget)", flush=True)
            continue
        a, b = inputs(VIDEO, dtype, a_const)
        el = b.element_size()
        numel_b = b.numel()
        tensor_gb = numel_b * el / 1e9
        # Backward kernel, minimum: reads h, dh (and a) and writes db (and da).
        bwd_gb = tensor_gb * (3 if a_const else 5)
        for name, kw in impls.items():
            kw = dict(kw)
            SCAN.BWD_PREFETCH = kw.pop("_prefetch", None)
            try:
                err = check(kw, dtype, a_const)
                ok = err < (2e-2 if dtype == torch.bfloat16 else 1e-4)
            except Exception as e:  # noqa: BLE001 - a failure is a result
                err, ok = f"{type(e).__name__}: {str(e)[:200]}", False
            data["checks"].append({"case": label, "impl": name, "rel_err": err, "pass": ok})
            print(f"check {label:10} {name:14} vs torch path: {err} {'ok' if ok else 'FAIL'}",
                  flush=True)  # fmt: skip
            if not ok:
                continue
            fns, keep = closures(kw, a, b)
            rev_fns, rev_keep = closures(kw, a, b, reverse=True)
            fns["rev fwd"], fns["rev bwd"] = rev_fns["fwd"], rev_fns["bwd"]
            x, y = keep[1], keep[1].clone()
            fns["copy3"] = lambda x=x, y=y: torch.add(x, y)
            row = {"case": label, "impl": name, "tensor_GB": tensor_gb, "bwd_kernel_GB": bwd_gb}
            for mode, fn in fns.items():
                try:
                    ms = _timeit(fn, DEV, reps=reps)
                except Exception as e:  # noqa: BLE001
                    row[mode] = f"{type(e).__name__}: {str(e)[:200]}"
                    continue
                row[mode] = ms
            ms_b = row.get("bwd")
            sizes = ("tensor_GB", "bwd_kernel_GB")
            line = " ".join(f"{m} {v:7.3f}" for m, v in row.items()
                            if isinstance(v, float) and m not in sizes)  # fmt: skip
            print(f"{label:10} {name:14} ms: {line}", flush=True)
            if isinstance(ms_b, float):
                print(f"{'':25} bwd alone {bwd_gb / ms_b:6.2f} TB/s for the kernel's minimum "
                      f"{bwd_gb:.2f} GB ({100 * bwd_gb / ms_b * 1e3 / bw:4.1f}% of copy)",
                      flush=True)  # fmt: skip
            data["results"].append(row)
            try:
                table = kernel_table(fns["fwd+bwd"], steps=1 if SMOKE else 3)
            except Exception as e:  # noqa: BLE001
                table = [{"error": f"{type(e).__name__}: {str(e)[:200]}"}]
            data["kernels"][f"{label} {name}"] = table
            print(f"{'':25} kernels of one fwd+bwd step (device µs, calls):", flush=True)
            for r in table[:8]:
                if "error" in r:
                    print(f"{'':27}{r['error']}", flush=True)
                    continue
                gbps = ""
                if "bwd_kernel" in r["kernel"]:
                    gbps = f"  {bwd_gb / (r['us_per_step'] / r['calls_per_step']) * 1e3:6.0f} GB/s"
                print(f"{'':27}{r['us_per_step']:9.1f} {r['calls_per_step']:4.1f}x "
                      f"{r['kernel']}{gbps}", flush=True)  # fmt: skip
            del fns, keep, rev_fns, rev_keep, x, y
            torch.cuda.empty_cache() if DEV.type == "cuda" else None
            save()
        del a, b
        torch.cuda.empty_cache() if DEV.type == "cuda" else None
    SCAN.BWD_PREFETCH = None
    failed = [c for c in data["checks"] if not c["pass"]]
    data["failed_checks"] = failed
    save()
    print(f"failed checks: {len(failed)}; elapsed {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
