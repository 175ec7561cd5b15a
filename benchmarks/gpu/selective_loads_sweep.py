"""Sweep the selective scan's tile-load schedule on one GPU: ``triton_scan.FWD_EARLY`` /
``BWD_EARLY`` (every load of a tile issued before its scan), the pipelined tile loops
(``FWD_STAGES``, ``BWD_STAGES``) and ``FLIP_FORWARD_TILES`` (forward launches run the reversed
launches' code), at (8, 1536, 2048, 16) in three cases: Mamba (one group, z), Mamba with every
channel reversed, and SS2D's layout (4 groups, the last two reversed, u shared, no z).

    python3 -P benchmarks/gpu/selective_loads_sweep.py --dtype bf16 --set flips > rows.jsonl

``--set loads`` is GPU batch 88's sweep (then one EARLY_LOADS switch for both kernels, the
fwd_early == bwd_early rows here); ``--set flips`` batch 89's (FLIP_FORWARD_TILES then a bool:
all sites, 14 here); ``--set sites`` batch 90's (which flipped tiles make the difference).

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

# (FWD_EARLY, BWD_EARLY, FWD_STAGES, BWD_STAGES, FLIP_FORWARD_TILES); each set's first row is
# the default of its day.
SETS = {
    "loads": [(False, False, 1, 1, 0), (True, True, 1, 1, 0), (False, False, 2, 1, 0),
              (True, True, 2, 1, 0), (True, True, 3, 1, 0), (True, True, 1, 2, 0),
              (True, True, 2, 2, 0), (False, False, 2, 2, 0)],
    "flips": [(False, False, 1, 1, 0), (True, False, 1, 1, 0), (False, False, 1, 1, 14),
              (True, False, 1, 1, 14)],
    "sites": [(True, False, 1, 1, m) for m in (0, 2, 4, 8, 6, 10, 12, 14)],
    "mask2": [(True, False, 1, 1, 0), (True, False, 1, 1, 2)],
}  # fmt: skip
KNOBS = ("FWD_EARLY", "BWD_EARLY", "FWD_STAGES", "BWD_STAGES", "FLIP_FORWARD_TILES")
CASES = ("mamba", "mamba reversed", "ss2d")


def make(case, dtype, shape=(8, 1536, 2048), dev="cuda"):
    g = torch.Generator(device=dev).manual_seed(0)
    kw = dict(device=dev, dtype=dtype, generator=g)
    (bsz, d, length), n = shape, 16
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
    p.add_argument("--dtype", default="bf16", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--set", default="flips", choices=sorted(SETS))
    p.add_argument("--shape", default="8,1536,2048", help="B,D,L (N = 16)")
    args = p.parse_args()
    defaults = {knob: getattr(ts, knob) for knob in KNOBS}
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    for case in CASES:
        x, reverse = make(case, dtype, tuple(int(v) for v in args.shape.split(",")))
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
        for schedule in SETS[args.set]:
            if case == "mamba reversed" and schedule[-1]:
                continue  # FLIP_FORWARD_TILES changes only forward launches
            for knob, value in zip(KNOBS, schedule, strict=True):
                # FLIP_FORWARD_TILES: the mask for every element size
                setattr(ts, knob, {2: value, 4: value} if knob == KNOBS[-1] else value)
            row = {"dtype": args.dtype, "case": case, "shape": args.shape,
                   **dict(zip(KNOBS, schedule, strict=True))}  # fmt: skip
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
    for knob, value in defaults.items():
        setattr(ts, knob, value)


if __name__ == "__main__":
    main()
