"""Host time of one linear_scan forward and backward, split into the wrapper and the launches.

Run 30 and batch 42 timed our eager fwd+bwd at 2-3x accelerated-scan's host time per call. This
splits it (tiny bf16 shape B=1, T=32, N=64, so wall time per call is host time; median of 5
rounds of ``--calls`` calls, one synchronisation a round):

- ``launch: ...``: the kernel launch alone, replayed with the arguments the call handed to
  ``triton_scan._launch`` (ours: forward 35 arguments, backward 38), against a one-line Triton
  copy kernel (4 arguments) and accelerated-scan's forward kernel (4 arguments plus grid);
- ``wrapper``: our forward / fwd+bwd with the launches replaced by no-ops (our Python and the
  torch calls around the kernels: checks, layouts, allocations, autograd);
- ``ours fwd`` / ``ours fwd+bwd``: the real calls (backward on the calling thread);
- building blocks: ``torch.empty`` on the GPU, a tensor slice.

Usage (GPU): ``python3 -P benchmarks/gpu/launch_cost.py --out /tmp/res/launch.json``
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P

from backward_thread_cost import _copy  # noqa: E402
from scan_host_overhead import per_call_us  # noqa: E402

from worldssm.kernels.benchmark import environment  # noqa: E402
from worldssm.kernels.linear_scan import linear_scan  # noqa: E402
from worldssm.kernels.linear_scan import triton_scan as ts  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--calls", type=int, default=300)
    args = p.parse_args()
    dev = torch.device("cuda")
    rep = {**environment(dev), "command": " ".join(["python3 -P", *sys.argv]), "us_per_call": {}}

    def record(name, fn):
        rep["us_per_call"][name] = us = per_call_us(fn, args.calls)
        print(f"{name:58} {us:8.1f} us per call", flush=True)

    b = torch.randn(1, 32, 64, device=dev, dtype=torch.bfloat16)
    a = (torch.rand(b.shape, device=dev) * 0.5 + 0.5).to(b.dtype)
    g = torch.ones_like(b)
    la, lb = a.detach().requires_grad_(), b.detach().requires_grad_()

    def fwd():
        with torch.no_grad():
            linear_scan(a, b)

    def fwd_bwd():
        la.grad = lb.grad = None
        linear_scan(la, lb).backward(g)

    # Capture what the forward and backward hand to _launch, then replay the launches alone.
    launch, calls = ts._launch, []

    def capture(*c_args, **c_kw):
        calls.append((c_args, dict(c_kw)))
        return launch(*c_args, **c_kw)

    ts._launch = capture
    with torch.autograd.set_multithreading_enabled(False):
        fwd_bwd()
    ts._launch = launch
    (f_args, f_kw), (b_args, b_kw) = calls
    record("launch: ours forward (35 arguments)", lambda: launch(*f_args, **f_kw))
    record("launch: ours backward (38 arguments)", lambda: launch(*b_args, **b_kw))
    x, y = b.reshape(-1), torch.empty_like(b.reshape(-1))
    record("launch: Triton copy kernel (4 arguments)",
           lambda: _copy[(1,)](x, y, x.numel(), BLOCK=1024))  # fmt: skip
    try:
        from accelerated_scan.scalar import forward_scan

        gates, tokens = a.transpose(1, 2).contiguous(), b.transpose(1, 2).contiguous()
        states = torch.empty_like(tokens)
        record("launch: accelerated-scan forward kernel",
               lambda: forward_scan[(1, 64)](gates, tokens, states, seqlen=32,
                                             enable_fp_fusion=False))  # fmt: skip
    except ImportError as e:
        print("accelerated-scan unavailable:", e)
    record("torch.empty(2) on the GPU", lambda: torch.empty(2, dtype=torch.int64, device=dev))
    record("tensor slice x[2:]", lambda: x[2:])
    with torch.autograd.set_multithreading_enabled(False):
        record("ours fwd", fwd)
        record("ours fwd+bwd (backward on the calling thread)", fwd_bwd)
        ts._launch = lambda *c_args, **c_kw: 1
        try:
            record("wrapper: ours fwd, launch a no-op", fwd)
            record("wrapper: ours fwd+bwd, launches no-ops", fwd_bwd)
        finally:
            ts._launch = launch
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(rep, f, indent=1)


if __name__ == "__main__":
    main()
