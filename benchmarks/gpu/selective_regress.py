"""Time selective_scan fwd (with autograd) and fwd+bwd at (B, D, L, N) = (8, 1536, 2048, 16).

Why: run 55 (H200, graph-timed) measured fwd+bwd 11.96 ms in fp32, against 6.10 ms in run 7
(H100, eager, commit 212e7dc). Run with PYTHONPATH pointing at either package (today's and
212e7dc's) to see whether the code or the timing moved. ``--ss2d`` times SS2D's layout instead
(4 groups of B/C, the last two reversed, u shared by the groups: 384 channels), the case that
launches one kernel per run of same-direction groups since commit "selective scan: one launch
per run of groups"; ``--rev`` the Mamba case with every channel reversed (``reverse=True``: one
launch of reversed tiles). Prints one JSON line.
"""

import json
import sys

import torch
import triton

from worldssm.kernels.selective_scan import selective_scan


def main():
    label, ss2d, rev = sys.argv[1], "--ss2d" in sys.argv[2:], "--rev" in sys.argv[2:]
    dev = "cuda"
    res = {"label": label, "case": "ss2d" if ss2d else "mamba reversed" if rev else "mamba"}
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.Generator(device=dev).manual_seed(0)
        kw = dict(device=dev, dtype=dtype, generator=g)
        bsz, d, length, n = 8, 1536, 2048, 16
        groups = 4 if ss2d else 1
        u = torch.randn(bsz, d // groups, length, **kw)
        delta = torch.randn(bsz, d, length, **kw) * 0.5
        z = None if ss2d else torch.randn(bsz, d, length, **kw)
        bc_shape = (bsz, groups, n, length) if ss2d else (bsz, n, length)
        bm = torch.randn(*bc_shape, **kw)
        cm = torch.randn(*bc_shape, **kw)
        f32 = dict(device=dev, dtype=torch.float32, generator=g)
        a = -torch.rand(d, n, **f32) - 0.5
        dd = torch.randn(d, **f32)
        bias = torch.randn(d, **f32) * 0.1
        leaves = [None if x is None else x.requires_grad_()
                  for x in (u, delta, a, bm, cm, dd, z, bias)]  # fmt: skip
        extra = {"reverse": [False, False, True, True]} if ss2d else {"reverse": rev}
        go = torch.ones(bsz, d, length, device=dev, dtype=dtype)

        def fwd(leaves=leaves, extra=extra):
            return selective_scan(*leaves, delta_softplus=True, **extra)

        def fwd_bwd(leaves=leaves, go=go, fwd=fwd):
            for x in leaves:
                if x is not None:
                    x.grad = None
            fwd().backward(go)

        name = str(dtype)[6:]
        for mode, fn in (("fwd (grad)", fwd), ("fwd+bwd", fwd_bwd)):
            ms = triton.testing.do_bench(fn, warmup=100, rep=500, return_mode="median")
            res[f"{name} {mode} ms"] = round(ms, 3)
        if label == "head":
            from worldssm.kernels.bench_timing import time_call

            res[f"{name} fwd+bwd graph ms"] = round(time_call(fwd_bwd, torch.device(dev), 20)[0], 3)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
