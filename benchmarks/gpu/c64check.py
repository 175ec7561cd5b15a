"""GPU check of the complex64 linear-scan tiles: outputs and grads vs the PyTorch path, and
the video-shape forward time with the default tile and the previous one (-> $OUT/c64check.json)."""

import contextlib
import json
import os

import torch
import triton

from worldssm.kernels import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import scan_config

torch.manual_seed(0)
out = {}


def rel(x, r):
    return ((x - r).abs().norm() / r.abs().norm()).item()


for shape, inv in [((4, 50, 256, 8, 8), False), ((4, 33, 256, 8, 8), True), ((3, 5, 1000), False)]:
    b = torch.randn(*shape, dtype=torch.complex64, device="cuda")
    ash = (1, 1, *shape[2:]) if inv else shape
    a = torch.polar(
        torch.rand(ash, device="cuda") * 0.5 + 0.5, torch.rand(ash, device="cuda") * 6.28
    )
    h0 = torch.randn(shape[0], *shape[2:], dtype=torch.complex64, device="cuda")
    res = {}
    w = torch.randn(shape, dtype=torch.complex64, device="cuda")  # the same weights for both
    for be in ("triton", "torch"):
        la, lb, lh = (x.clone().requires_grad_() for x in (a, b, h0))
        h = linear_scan(la, lb, h0=lh, backend=be)
        (h * w.conj()).real.sum().backward()
        res[be] = [h, la.grad, lb.grad, lh.grad]
    out[str(shape) + str(inv)] = [
        rel(x, r) for x, r in zip(res["triton"], res["torch"], strict=True)
    ]
b = torch.randn(8, 300, 256, 16, 16, dtype=torch.complex64, device="cuda")
a = torch.polar(torch.rand_like(b.real) * 0.5 + 0.5, torch.rand_like(b.real))
for name, cfg in [("default", None), ("old (16,128,2)", (16, 128, 2))]:
    with scan_config("single", cfg) if cfg else contextlib.nullcontext(), torch.no_grad():
        ms = triton.testing.do_bench(
            lambda: linear_scan(a, b, backend="triton"), warmup=10, rep=200
        )
    out["video fwd ms " + name] = ms
print(json.dumps(out, indent=1))
json.dump(out, open(os.environ["OUT"] + "/c64check.json", "w"), indent=1)
