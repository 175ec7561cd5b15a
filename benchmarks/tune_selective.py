"""Sweep the fused selective-scan tiles (BLOCK_D, BLOCK_L, num_warps) on one GPU.

For each BLOCK_L (the backward must use the forward's time tile: it restarts from the forward's
per-tile checkpoints) it times the forward over BLOCK_D x warps, then the backward over its own
BLOCK_D x warps with the best forward fixed, checks every config against the PyTorch path on a
small shape (outputs and all gradients), and writes all timings as JSON:

    python benchmarks/tune_selective.py --out results/tune-selective.json

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

FWD = [(4, 4), (8, 4), (16, 4), (16, 8), (32, 4), (32, 8)]
BWD = [(1, 1), (2, 1), (2, 2), (4, 2), (4, 4), (8, 4), (8, 8), (16, 8)]
# (BLOCK_D, BLOCK_L, num_warps)
INFER = [(4, 32, 4), (1, 32, 1), (2, 32, 2), (2, 64, 2), (8, 32, 4), (1, 64, 1), (1, 64, 2),
         (2, 64, 4), (1, 16, 1), (2, 16, 1), (1, 128, 2), (2, 128, 4)]  # fmt: skip
# VFIMamba-S at 1088x1920: 1/8 scale (136 x 240 tokens per frame, two frames interleaved) and
# 1/16; 4 directions x 256 channels, u shared by the directions (B, 256, L), two reversed.
INFER_SHAPES = {
    "vfi-s 1080p 1/8": (1, 1024, 65280, 16, 4),
    "vfi-s 1080p 1/16": (1, 1024, 16320, 16, 4),
}
SHAPES = {"mamba (8,1536,2048,16) G=1": (8, 1536, 2048, 16, 1),
          "vfi 1/8 (16,1024,2048,16) G=4": (16, 1024, 2048, 16, 4)}  # fmt: skip


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


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--block-l", default="8,16,32")
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
    for name, shape in SHAPES.items():
        x = inputs(*shape, device)
        with torch.no_grad():
            xs = {k: v.detach() for k, v in x.items()}
        for block_l in (int(v) for v in args.block_l.split(",")):
            best_f = None
            for bd, w in FWD:
                ts.FWD_CONFIG, ts.BWD_CONFIG = (bd, block_l, w), (4, block_l, 2)
                try:
                    err = check(device)
                    ms = timeit(lambda xs=xs: call(xs, "triton"))
                except Exception as e:  # noqa: BLE001 (a config may not compile)
                    rows.append({"shape": name, "pass": "fwd", "cfg": [bd, block_l, w],
                                 "error": repr(e)[:200]})  # fmt: skip
                    continue
                rows.append({"shape": name, "pass": "fwd", "cfg": [bd, block_l, w], "ms": ms,
                             "rel_err": err})  # fmt: skip
                print(rows[-1], flush=True)
                if best_f is None or ms < best_f[1]:
                    best_f = ((bd, block_l, w), ms)
            if best_f is None:
                continue
            for bd, w in BWD:
                ts.FWD_CONFIG, ts.BWD_CONFIG = best_f[0], (bd, block_l, w)

                def fb(x=x):
                    y = call(x, "triton")
                    y.backward(torch.ones_like(y))

                try:
                    err = check(device)
                    ms = timeit(fb, reps=5)
                except Exception as e:  # noqa: BLE001
                    rows.append({"shape": name, "pass": "bwd", "cfg": [bd, block_l, w],
                                 "error": repr(e)[:200]})  # fmt: skip
                    continue
                rows.append({"shape": name, "pass": "fwd+bwd", "fwd_cfg": list(best_f[0]),
                             "cfg": [bd, block_l, w], "ms": ms, "bwd_ms": ms - best_f[1],
                             "rel_err": err})  # fmt: skip
                print(rows[-1], flush=True)
                save()
    save()


if __name__ == "__main__":
    main()
