"""Sweep the selective scan's tile-load schedule on one GPU: ``triton_scan.EARLY_LOADS`` (every
load of a tile issued before its scan) and the pipelined tile loops (``FWD_STAGES``,
``BWD_STAGES``), at (8, 1536, 2048, 16) in three cases: Mamba (one group, z), Mamba with every
channel reversed, and SS2D's layout (4 groups, the last two reversed, u shared, no z).

    python3 -P benchmarks/gpu/selective_loads_sweep.py --dtype bf16 > rows.jsonl

One JSON line per (case, schedule): forward with autograd and fwd+bwd, median ms
(triton.testing.do_bench), and the largest relative error of the output and every gradient
against the default schedule (same inputs), so a schedule that breaks the result shows.
"""

import argparse
import json

import torch
import triton

from worldssm.kernels.selective_scan import selective_scan
from worldssm.kernels.selective_scan import triton_scan as ts

# (EARLY_LOADS, FWD_STAGES, BWD_STAGES); the first is today's default.
SCHEDULES = [(False, 1, 1), (True, 1, 1), (False, 2, 1), (True, 2, 1), (True, 3, 1),
             (True, 1, 2), (True, 2, 2), (False, 2, 2)]  # fmt: skip
CASES = ("mamba", "mamba reversed", "ss2d")


def make(case, dtype, dev="cuda"):
    g = torch.Generator(device=dev).manual_seed(0)
    kw = dict(device=dev, dtype=dtype, generator=g)
    bsz, d, length, n = 8, 1536, 2048, 16
    groups = 4 if case == "ss2d" else 1
    f32 = dict(device=dev, dtype=torch.float32, generator=g)
    x = dict(
        u=torch.randn(bsz, d // groups, length, **kw),
        delta=torch.randn(bsz, d, length, **kw) * 0.5,
        A=-torch.rand(d, n, **f32) - 0.5,
        B=torch.randn(bsz, groups, n, length, **kw),
        C=torch.randn(bsz, groups, n, length, **kw),
        D=torch.randn(d, **f32),
        z=None if case == "ss2d" else torch.randn(bsz, d, length, **kw),
        delta_bias=torch.randn(d, **f32) * 0.1,
    )
    x = {k: None if v is None else v.requires_grad_() for k, v in x.items()}
    reverse = [False, False, True, True] if case == "ss2d" else case == "mamba reversed"
    return x, reverse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dtype", default="bf16", choices=["fp32", "bf16"])
    args = p.parse_args()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    for case in CASES:
        x, reverse = make(case, dtype)
        go = torch.randn(x["delta"].shape, device="cuda", dtype=dtype)

        def fwd(x=x, reverse=reverse):
            return selective_scan(**x, delta_softplus=True, reverse=reverse)

        def fwd_bwd(x=x, go=go, fwd=fwd):
            for v in x.values():
                if v is not None:
                    v.grad = None
            out = fwd()
            out.backward(go)
            return [out] + [v.grad for v in x.values() if v is not None]

        ref = None
        for early, fs, bs in SCHEDULES:
            ts.EARLY_LOADS, ts.FWD_STAGES, ts.BWD_STAGES = early, fs, bs
            row = {"dtype": args.dtype, "case": case, "early": early, "fwd_stages": fs,
                   "bwd_stages": bs}  # fmt: skip
            try:
                got = [t.detach().float().clone() for t in fwd_bwd()]
                ref = ref or got
                row["max_rel_err_vs_default"] = max(
                    ((a - r).norm() / r.norm().clamp_min(1e-30)).item()
                    for a, r in zip(got, ref, strict=True)
                )
                bench = dict(warmup=25, rep=150, return_mode="median")
                row["fwd ms"] = round(triton.testing.do_bench(fwd, **bench), 4)
                row["fwd+bwd ms"] = round(triton.testing.do_bench(fwd_bwd, **bench), 4)
            except Exception as e:  # noqa: BLE001 (a schedule may not compile)
                row["error"] = repr(e)[:300]
            print(json.dumps(row), flush=True)
    ts.EARLY_LOADS, ts.FWD_STAGES, ts.BWD_STAGES = False, 1, 1


if __name__ == "__main__":
    main()
