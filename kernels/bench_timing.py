"""How the scan benchmarks time one call: a CUDA-graph replay on GPU, wall time on CPU.

Timing eager calls with CUDA events measures the GPU from the start event to the end event,
including any time the GPU waits for the host to launch the call's kernels. On a busy host that
wait dominates short calls: in GPU batch 26 (one H100, 2026-11-27) the same 0.22 ms bf16
forward timed 0.22-0.56 ms in one process, and eager ConvS5 generation ran 1.8x slower than in
an earlier run on the same kind of card. Replaying the call captured as one CUDA graph launches
it with a single host call, so the events time the kernels. Every implementation in a run is
timed the same way; one that cannot be captured (host syncs, other runtimes) falls back to
eager calls, and the result records which way each was timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

# "graph" (capture, then time replays) or "eager" (time plain calls); set by --timing.
MODE = "graph"


def time_call(fn: Callable[[], object], device: torch.device, reps: int = 20,
              mode: str | None = None) -> tuple[float, str]:  # fmt: skip
    """Median milliseconds of ``fn()`` after warm-up, and how it was timed.

    Returns ``(ms, how)`` with ``how`` one of ``"cuda graph"``, ``"eager"`` (CUDA events around
    plain calls, triton's ``do_bench`` with its L2 flush either way) or ``"cpu"`` (wall time).
    """
    fn()
    if device.type != "cuda":
        times = []
        for _ in range(max(3, reps // 4)):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return sorted(times)[len(times) // 2], "cpu"
    import triton.testing

    graph = _capture(fn) if (mode or MODE) == "graph" else None
    run = graph.replay if graph is not None else fn
    ms = float(triton.testing.do_bench(run, warmup=25, rep=max(100, reps * 5),
                                       return_mode="median"))  # fmt: skip
    how = "cuda graph" if graph is not None else "eager"
    del graph, run
    torch.cuda.synchronize()
    return ms, how


def _capture(fn: Callable[[], object]) -> torch.cuda.CUDAGraph | None:
    """``fn`` captured as one CUDA graph (warmed up on a side stream first), or None."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn()
    except Exception:  # noqa: BLE001 - not capturable: time eager calls instead
        torch.cuda.synchronize()
        return None
    return graph
