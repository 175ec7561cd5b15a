"""Scan kernels shared by every model family (installed as ``worldssm.kernels``).

- :func:`linear_scan`: h_t = a_t * h_{t-1} + b_t over (B, T, *S), real or complex, with resets,
  initial and final states, reverse scans and autograd.
- :func:`selective_scan` / :func:`selective_step`: the input-dependent Mamba (S6) scan, fused.
- :func:`scan_backend`: force the ``naive``, ``torch`` or ``triton`` path (tests, benchmarks).
"""

from worldssm.kernels.backend import active_backend_summary, resolve_backend, scan_backend
from worldssm.kernels.linear_scan import linear_scan, linear_scan_naive
from worldssm.kernels.selective_scan import selective_scan, selective_scan_naive, selective_step

__all__ = [
    "active_backend_summary",
    "linear_scan",
    "linear_scan_naive",
    "resolve_backend",
    "scan_backend",
    "selective_scan",
    "selective_scan_naive",
    "selective_step",
]
