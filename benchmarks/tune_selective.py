"""Sweep the fused selective-scan tiles (BLOCK_D, BLOCK_L, num_warps) on one GPU.

For each dtype and BLOCK_L (the backward must use the forward's time tile: it restarts from the
forward's per-tile checkpoints) it times the forward (with autograd: the tiled kernel that stores
checkpoints) over BLOCK_D x warps, then forward+backward over the backward's own BLOCK_D x warps
with the best forward fixed, checks every config against the PyTorch path on a small shape
(outputs and all gradients, fp32), and writes all timings (medians of triton.testing.do_bench)
as JSON:

    python benchmarks/tune_selective.py --dtypes fp32,bf16 --out results/tune-selective.json

``--infer`` sweeps the forward without autograd instead (``triton_scan.INFER_CONFIG``) at the
VFIMamba-S 1080p shapes
(batch 1, four directions sharing u), fp32 and bf16, each config checked against the PyTorch
path first:

    python benchmarks/tune_selective.py --infer --out results/tune-selective-infer.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time

import torch

from worldssm.kernels.selective_scan import selective_scan
from worldssm.kernels.selective_scan import triton_scan as ts

FWD = [(2, 2), (4, 4), (8, 4), (16, 8)]
BWD = [(1, 1), (2, 1), (2, 2), (4, 2)]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# (BLOCK_D, BLOCK_L, num_warps)
INFER = [(4, 32, 4), (1, 32, 1), (2, 32, 2), (2, 64, 2), (8, 32, 4), (1, 64, 1), (1, 64, 2),
         (2, 64, 4), (1, 16, 1), (2, 16, 1), (1, 128, 2), (2, 128, 4)]  # fmt: skip
# VFIMamba-S at 1088x1920: 1/8 scale (136 x 240 tokens per frame, two frames interleaved) and
# 1/16; 4 directions x 256 channels, u shared by the directions (B, 256, L), two reversed.
INFER_SHAPES = {
    "vfi-s 1080p 1/8": (1, 1024, 65280, 16, 4),
    "vfi-s 1080p 1/16": (1, 1024, 16320, 16, 4),
}
# name -> (B, D, L, N, groups)
SHAPES = {"mamba": (8, 1536, 2048, 16, 1), "vfi-1/8": (16, 1024, 2048, 16, 4)}


def inputs(b, d, length, n, g, device, requires_grad=True):
    gen = torch.Generator(device=device).manual_seed(0)

    def r(*s):
        return torch.randn(*s, device=device, generator=gen)

    x = dict(
        u=r(b, d, length),
        delta=r(b, d, length) * 0.5,
        A=-torch.exp(r(d, n) * 0.5),
        B=r(b, g, n, length),
        C=r(b, g, n, length),
        D=r(d),
        z=r(b, d, length),
        delta_bias=r(d) * 0.1,
    )
    for v in x.values():
        v.requires_grad_(requires_grad)
    return x


def call(x, backend):
    return selective_scan(**x, delta_softplus=True, backend=backend)


def check(device) -> float:
    """Max relative error (outputs and gradients) of the Triton path vs the PyTorch path."""
    x = inputs(2, 64, 100, 16, 2, device)
    worst = 0.0
    outs = {}
    for backend in ("torch", "triton"):
        for v in x.values():
            v.grad = None
        y = call(x, backend)
        y.backward(torch.ones_like(y) * 0.01 + y.detach() * 0.1)
        outs[backend] = [y.detach()] + [v.grad.clone() for v in x.values()]
    for a, b in zip(outs["torch"], outs["triton"], strict=True):
        worst = max(worst, ((a - b).norm() / b.norm().clamp_min(1e-12)).item())
    return worst


def timeit(fn, reps=10) -> float:
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps * 1e3


def median_ms(fn) -> float:
    """Median ms of ``fn`` over about 200 ms of calls."""
    import triton

    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


def sweep_infer(device, rows, save) -> None:
    """Forward without autograd: every INFER config at INFER_SHAPES, fp32 and bf16."""
    rev = [False, False, True, True]
    small = inputs(1, 64, 300, 16, 4, device, requires_grad=False)
    small["u"] = small["u"][:, :16].contiguous()
    with torch.no_grad():
        ref = selective_scan(**small, delta_softplus=True, backend="torch", reverse=rev)
    for name, (b, d, length, n, g) in INFER_SHAPES.items():
        for dtype in (torch.float32, torch.bfloat16):
            x = inputs(b, d, length, n, g, device, requires_grad=False)
            x["u"] = x["u"][:, : d // 4].contiguous()
            x = {k: v if k == "A" else v.to(dtype) for k, v in x.items()}
            for cfg in INFER:
                ts.INFER_CONFIG = cfg
                try:
                    with torch.no_grad():
                        got = selective_scan(**small, delta_softplus=True, backend="triton",
                                             reverse=rev)  # fmt: skip
                        err = ((got - ref).norm() / ref.norm()).item()
                        ms = timeit(lambda x=x: selective_scan(
                            **x, delta_softplus=True, backend="triton", reverse=rev))  # fmt: skip
                except Exception as e:  # noqa: BLE001 (a config may not compile)
                    rows.append({"shape": name, "dtype": str(dtype), "cfg": list(cfg),
                                 "error": repr(e)[:200]})  # fmt: skip
                    continue
                rows.append({"shape": name, "dtype": str(dtype)[6:], "cfg": list(cfg), "ms": ms,
                             "rel_err": err})  # fmt: skip
                print(rows[-1], flush=True)
                save()
    ts.INFER_CONFIG = None


def sweep_training(name, dtype, block_ls, device, rows, save) -> None:
    """Forward (with autograd) and forward+backward tiles at SHAPES[name] in ``dtype``."""
    x = inputs(*SHAPES[name], device)
    x = {k: v.detach().to(v.dtype if k == "A" else dtype).requires_grad_() for k, v in x.items()}
    dn = str(dtype)[6:]

    def fb(x=x):
        for v in x.values():
            v.grad = None
        y = call(x, "triton")
        y.backward(torch.ones_like(y))

    for block_l in block_ls:
        best_f = None
        for bd, w in FWD:
            ts.FWD_CONFIG, ts.BWD_CONFIG = (bd, block_l, w), (2, block_l, 1)
            row = {"shape": name, "dtype": dn, "pass": "fwd", "cfg": [bd, block_l, w]}
            try:
                err = check(device)
                ms = median_ms(lambda x=x: call(x, "triton"))
            except Exception as e:  # noqa: BLE001 (a config may not compile)
                rows.append(dict(row, error=repr(e)[:200]))
                continue
            rows.append(dict(row, ms=round(ms, 4), rel_err=err))
            print(rows[-1], flush=True)
            save()
            if best_f is None or ms < best_f[1]:
                best_f = ((bd, block_l, w), ms)
        if best_f is None:
            continue
        for bd, w in BWD:
            ts.FWD_CONFIG, ts.BWD_CONFIG = best_f[0], (bd, block_l, w)
            row = {"shape": name, "dtype": dn, "pass": "fwd+bwd", "fwd_cfg": list(best_f[0]),
                   "cfg": [bd, block_l, w]}  # fmt: skip
            try:
                err = check(device)
                ms = median_ms(fb)
            except Exception as e:  # noqa: BLE001
                rows.append(dict(row, error=repr(e)[:200]))
                continue
            rows.append(dict(row, ms=round(ms, 4), bwd_ms=round(ms - best_f[1], 4), rel_err=err))
            print(rows[-1], flush=True)
            save()
    ts.FWD_CONFIG = ts.BWD_CONFIG = None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--block-l", default="32,64")
    p.add_argument("--dtypes", default="fp32", help="comma-separated: fp32, bf16")
    p.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated SHAPES keys")
    p.add_argument("--infer", action="store_true", help="sweep the no-autograd forward")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    device = torch.device("cuda")
    rows = []
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "card": torch.cuda.get_device_name(0),
        "command": "python " + " ".join(sys.argv),
        "rows": rows,
    }

    def save():
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)

    if args.infer:
        sweep_infer(device, rows, save)
        return
    for dname in args.dtypes.split(","):
        for name in args.shapes.split(","):
            sweep_training(name, DTYPES[dname], [int(v) for v in args.block_l.split(",")],
                           device, rows, save)  # fmt: skip
    save()


if __name__ == "__main__":
    main()
