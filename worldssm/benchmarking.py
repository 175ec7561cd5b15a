"""Timing and peak-memory helpers shared by the scripts in ``benchmarks/``."""

from __future__ import annotations

import time

import torch


def sync(device: torch.device) -> None:
    """Wait for queued GPU work (no-op on CPU), so wall-clock timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int) -> float:
    """Mean seconds per call of ``fn()`` over ``repeats`` calls, synchronised on both ends."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / repeats


def reset_peak(device: torch.device) -> None:
    """Free cached blocks and restart the peak-memory counter (CUDA only)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    """Peak allocated GPU memory in GiB since :func:`reset_peak`; None on CPU."""
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
