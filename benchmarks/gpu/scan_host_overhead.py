"""Host (Python + launch) time of one linear_scan call on a GPU, and where it goes.

GPU batch 27 timed the bf16 video scan with a time-invariant a at 0.56 ms fwd+bwd as a CUDA
graph replay but 0.94 ms as eager calls: the host, not the GPU, set the pace. This times eager
calls at a tiny shape (the GPU part is a few microseconds, so wall time per call is host time)
for our path and accelerated-scan's Triton kernel, then profiles ours with cProfile (with the
backward on the calling thread, where the profiler sees it).

Usage: ``python3 -P benchmarks/gpu/scan_host_overhead.py --out /tmp/res/host.json``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

import torch

from worldssm.kernels.benchmark import environment
from worldssm.kernels.linear_scan import linear_scan


def per_call_us(fn, calls: int) -> float:
    """Median over 5 rounds of the wall time per call, synchronising once per round."""
    fn()
    torch.cuda.synchronize()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
        rounds.append((time.perf_counter() - t0) / calls * 1e6)
    return sorted(rounds)[2]


def closures(a_const: bool):
    """name -> zero-argument call, for ours and the peer at B=1, T=32, N=64 (bf16)."""
    dev = torch.device("cuda")
    b = torch.randn(1, 32, 64, device=dev, dtype=torch.bfloat16)
    a = (torch.rand((1, 1, 64) if a_const else b.shape, device=dev) * 0.5 + 0.5).to(b.dtype)
    grad = torch.ones_like(b)
    leaves = [a.detach().requires_grad_(), b.detach().requires_grad_()]

    def fwd():
        with torch.no_grad():
            linear_scan(a, b)

    def fwd_bwd():
        for x in leaves:
            x.grad = None
        linear_scan(*leaves).backward(grad)

    def fwd_bwd_same_thread():
        with torch.autograd.set_multithreading_enabled(False):
            fwd_bwd()

    out = {"ours fwd": fwd, "ours fwd+bwd": fwd_bwd,
           "ours fwd+bwd, backward on the calling thread": fwd_bwd_same_thread}  # fmt: skip
    try:
        from accelerated_scan.scalar import scan

        gates = a.expand_as(b).transpose(1, 2).contiguous().requires_grad_()
        tokens = b.transpose(1, 2).contiguous().requires_grad_()
        gt = grad.transpose(1, 2).contiguous()

        def peer_fwd():
            with torch.no_grad():
                scan(gates, tokens)

        def peer_fwd_bwd():
            gates.grad = tokens.grad = None
            scan(gates, tokens).backward(gt)

        out.update({"accelerated-scan fwd": peer_fwd, "accelerated-scan fwd+bwd": peer_fwd_bwd})
    except ImportError as e:
        print("accelerated-scan unavailable:", e)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    report = {**environment(torch.device("cuda")), "command": "python3 -P " + " ".join(
        ["benchmarks/gpu/scan_host_overhead.py", *(f"--out {args.out}".split() if args.out
                                                   else [])]), "us_per_call": {}}  # fmt: skip
    for a_const in (False, True):
        for name, fn in closures(a_const).items():
            key = f"{name}, a {'time-invariant' if a_const else 'time-varying'}"
            report["us_per_call"][key] = us = per_call_us(fn, args.calls)
            print(f"{key:55} {us:8.1f} us per call", flush=True)
    # cProfile sees only its own thread: run the backward there too.
    fn = closures(True)["ours fwd+bwd, backward on the calling thread"]
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.calls):
        fn()
    torch.cuda.synchronize()
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
    report["profile_fwd_bwd_time_invariant"] = text.getvalue()
    print(text.getvalue())
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
