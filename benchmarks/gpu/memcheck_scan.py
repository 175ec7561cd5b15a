"""Out-of-bounds check of the linear_scan kernels: run under ``compute-sanitizer --tool memcheck``.

Why: in GPU batch 42 (one H100) accelerated-scan's Triton fwd+bwd (bf16, B=8, C=1536, T=1024)
died with an illegal memory access right after our T-major fwd+bwd had been timed in the same
process. A fault is reported at the next synchronising call, so this runs each side on its own,
eagerly, at small odd shapes, under the memory checker:

- ``--which ours``: forward and backward (eager, b and h0 requiring grad) of every variant the
  shape heuristic can pick and the forced ones: single pass, chunked, lane_cols, T-major
  (rev_scan and the row-reordering backward, short T with the shrunk tile), complex64 packed
  and pairs, reverse, resets and h0;
- ``--which peer``: accelerated-scan's Triton scan, fwd+bwd, at the shape that faulted and a
  small one.

Each case prints ``ok`` after a synchronise. The sanitizer prints an error report per bad access
and exits non-zero if it saw any.

Usage (GPU): ``compute-sanitizer --tool memcheck python3 -P benchmarks/gpu/memcheck_scan.py
--which ours``; CPU smoke test: ``TRITON_INTERPRET=1 python3 -P ... --which ours --device cpu``
"""

from __future__ import annotations

import argparse

import torch

from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import scan_config

# (label, scan_config kwargs, dtype, B, T, N, a time-invariant, b stored (B, N, T), extras)
CASES = [
    ("single fp32", {}, torch.float32, 2, 1000, 96, False, False, {}),
    ("single bf16 a ti, h0", {}, torch.bfloat16, 2, 300, 96, True, False, {"h0": True}),
    ("single fp32 reverse, reset", {}, torch.float32, 2, 77, 96, False, False,
     {"reverse": True, "reset": True}),
    ("chunked fp32", {"variant": "chunked"}, torch.float32, 2, 1000, 96, False, False, {}),
    ("chunked bf16 a ti", {"variant": "chunked"}, torch.bfloat16, 2, 1000, 96, True, False, {}),
    ("lane_cols bf16 (default at T >= 1024)", {}, torch.bfloat16, 2, 1500, 96, False, False, {}),
    ("lane_cols bf16 a ti", {}, torch.bfloat16, 2, 1500, 96, True, False, {}),
    ("T-major bf16 T=1024", {"t_major": True}, torch.bfloat16, 2, 1024, 96, False, True, {}),
    ("T-major bf16 T=1000 a ti, h0", {"t_major": True}, torch.bfloat16, 2, 1000, 96, True, True,
     {"h0": True}),
    ("T-major fp32 T=300 (short tile)", {"t_major": True}, torch.float32, 2, 300, 96, False,
     True, {}),
    ("T-major fp32 T=5", {"t_major": True}, torch.float32, 2, 5, 96, False, True, {}),
    ("T-major bf16 no rev_scan", {"t_major": True, "rev_scan": False}, torch.bfloat16, 2, 1000,
     96, False, True, {}),
    ("T-major fp32 reset", {"t_major": True}, torch.float32, 2, 1000, 96, False, True,
     {"reset": True}),
    ("T-major bf16 shift_rows", {"t_major": True, "shift_rows": True}, torch.bfloat16, 2, 1000,
     96, False, True, {}),
    ("T-major fp32 shift_rows a ti, h0, reset", {"t_major": True, "shift_rows": True},
     torch.float32, 2, 1000, 96, True, True, {"h0": True, "reset": True}),
    ("T-major bf16 groups", {"t_major": True, "groups": True}, torch.bfloat16, 2, 1000, 96,
     False, True, {}),
    ("T-major bf16 groups a ti, h0, reset", {"t_major": True, "groups": True}, torch.bfloat16,
     2, 1001, 96, True, True, {"h0": True, "reset": True}),
    ("T-major fp32 groups 4 warps, reset", {"t_major": True, "groups": True,
     "bwd_tile": (1024, 1, 4)}, torch.float32, 2, 3001, 96, False, True, {"reset": True}),
    ("complex64 packed", {}, torch.complex64, 2, 300, 96, False, False, {"h0": True}),
    ("complex64 pairs", {"packed": False}, torch.complex64, 2, 300, 96, True, False, {}),
]  # fmt: skip


def run_ours(dev: torch.device):
    g = torch.Generator(dev).manual_seed(0)
    for label, kw, dtype, bsz, length, n, a_const, t_major, extra in CASES:
        if dev.type == "cpu":  # the interpreter: the same cases at tiny sizes
            length, n = min(length, 20), 10
        real = torch.float32 if dtype == torch.complex64 else dtype
        shape = (bsz, n, length) if t_major else (bsz, length, n)
        b = torch.randn(shape, device=dev, generator=g).to(real)
        if dtype == torch.complex64:
            b = torch.complex(b.float(), torch.randn_like(b.float()))
        a_shape = (1, 1, n) if a_const else shape
        a = (torch.rand(a_shape, device=dev, generator=g) * 0.5 + 0.5).to(b.dtype)
        if t_major:
            b = b.transpose(1, 2)
            a = a if a_const else a.transpose(1, 2)
        h0 = torch.randn(bsz, n, device=dev, generator=g).to(b.dtype) if extra.get("h0") else None
        reset = None
        if extra.get("reset"):
            reset = torch.rand(bsz, length, device=dev, generator=g) < 0.05
        leaves = [x.detach().requires_grad_() for x in (a, b) + ((h0,) if h0 is not None else ())]
        with scan_config(**kw):
            h, last = linear_scan(leaves[0], leaves[1], h0=leaves[2] if h0 is not None else None,
                                  reset=reset, reverse=extra.get("reverse", False),
                                  return_final=True, backend="triton")  # fmt: skip
            (h.abs().sum() + last.abs().sum()).backward()
        torch.cuda.synchronize() if dev.type == "cuda" else None
        print(f"ok   {label}", flush=True)


def run_peer():
    from accelerated_scan.scalar import scan

    dev = torch.device("cuda")
    for bsz, c, length in ((2, 96, 1000), (8, 1536, 1024)):
        for dtype in (torch.bfloat16, torch.float32):
            gates = (torch.rand(bsz, c, length, device=dev) * 0.5 + 0.5).to(dtype)
            x = torch.randn(bsz, c, length, device=dev).to(dtype)
            leaves = [gates.requires_grad_(), x.requires_grad_()]
            h = scan(*leaves)
            torch.autograd.grad(h, leaves, torch.randn_like(h))
            torch.cuda.synchronize()
            print(f"ok   accelerated-scan {dtype} B={bsz} C={c} T={length} fwd+bwd", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--which", choices=("ours", "peer"), required=True)
    p.add_argument("--device", default="cuda", help="cpu: a smoke test (TRITON_INTERPRET=1)")
    args = p.parse_args()
    run_ours(torch.device(args.device)) if args.which == "ours" else run_peer()


if __name__ == "__main__":
    main()
