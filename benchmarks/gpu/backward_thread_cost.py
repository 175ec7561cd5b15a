"""Where the eager fwd+bwd host time of linear_scan goes when autograd runs the backward on its
device thread.

Run 25 (results/scan-h100-run25-host-overhead.json) timed our eager fwd+bwd at 842 / 906 µs per
call (a time-varying / invariant) but 517 / 422 µs with the backward on the calling thread;
accelerated-scan's whole fwd+bwd took about 200 µs. This times, at a tiny shape (the GPU work is
a few microseconds, so wall time per call is host time), with autograd's multithreading on and
off:

- ``ours``: linear_scan (Triton path);
- ``peer``: accelerated-scan's Triton scan, if installed;
- ``triton fn``: a minimal autograd Function whose forward and backward each launch one
  one-line Triton kernel (what any Triton op pays);
- ``torch fn``: the same Function with a torch op instead of the kernels (what autograd pays).

Usage: ``python3 -P benchmarks/gpu/backward_thread_cost.py --out /tmp/res/bwd-thread.json``
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import triton
import triton.language as tl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P

from scan_host_overhead import per_call_us  # noqa: E402

from worldssm.kernels.benchmark import environment  # noqa: E402
from worldssm.kernels.linear_scan import linear_scan  # noqa: E402


@triton.jit
def _copy(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


def _launch_copy(x):
    y = torch.empty_like(x)
    _copy[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
    return y


class TritonFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return _launch_copy(x)

    @staticmethod
    def backward(ctx, g):
        return _launch_copy(g)


class TorchFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g.clone()


def closures():
    dev = torch.device("cuda")
    b = torch.randn(1, 32, 64, device=dev, dtype=torch.bfloat16)
    a = (torch.rand(b.shape, device=dev) * 0.5 + 0.5).to(b.dtype)
    g = torch.ones_like(b)
    la, lb = a.detach().requires_grad_(), b.detach().requires_grad_()

    def ours():
        la.grad = lb.grad = None
        linear_scan(la, lb).backward(g)

    x = b.detach().requires_grad_()

    def triton_fn():
        x.grad = None
        TritonFn.apply(x).backward(g)

    def torch_fn():
        x.grad = None
        TorchFn.apply(x).backward(g)

    out = {"ours": ours, "triton fn": triton_fn, "torch fn": torch_fn}
    try:
        from accelerated_scan.scalar import scan

        gates = a.transpose(1, 2).contiguous().requires_grad_()
        tokens = b.transpose(1, 2).contiguous().requires_grad_()
        gt = g.transpose(1, 2).contiguous()

        def peer():
            gates.grad = tokens.grad = None
            scan(gates, tokens).backward(gt)

        out["peer"] = peer
    except ImportError:
        pass
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rep = {**environment(torch.device("cuda")), "results": []}
    for name, fn in closures().items():
        row = {"impl": name}
        for threaded in (True, False):
            with torch.autograd.set_multithreading_enabled(threaded):
                row["device thread" if threaded else "calling thread"] = per_call_us(fn, 200)
        rep["results"].append(row)
        print(f"{name:10} fwd+bwd µs per call: backward on autograd's device thread "
              f"{row['device thread']:7.1f}, on the calling thread {row['calling thread']:7.1f}",
              flush=True)  # fmt: skip
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(rep, f, indent=1)


if __name__ == "__main__":
    main()
