"""Which implementation a scan op runs: ``naive``, ``torch`` or ``triton``.

``auto`` (the default) picks Triton for CUDA tensors and the pure-PyTorch path otherwise. Tests
and benchmarks force a path with :func:`scan_backend` or the ``WORLDSSM_SCAN_BACKEND`` variable.
With ``TRITON_INTERPRET=1`` set before import, the Triton path also runs on CPU tensors
(slowly: it is meant for tests on a few thousand elements).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import os

import torch

BACKENDS = ("auto", "naive", "torch", "triton")
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("scan_backend", default=None)


@functools.cache  # a module search on every scan call cost microseconds of host time
def triton_available() -> bool:
    """True when Triton is importable."""
    return importlib.util.find_spec("triton") is not None


def triton_interpreted() -> bool:
    """True when Triton kernels run in the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@contextlib.contextmanager
def scan_backend(name: str):
    """Force every scan op inside the ``with`` block onto one backend.

    Example::

        with scan_backend("naive"):
            h = linear_scan(a, b)
    """
    _check_name(name)
    token = _override.set(name)
    try:
        yield
    finally:
        _override.reset(token)


def _check_name(name: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"unknown scan backend {name!r}; choose one of {BACKENDS}")


def resolve_backend(device: torch.device, requested: str | None = None) -> str:
    """The backend a call on ``device`` runs: the argument, else the context, else the env var."""
    name = requested or _override.get() or os.environ.get("WORLDSSM_SCAN_BACKEND") or "auto"
    _check_name(name)
    if name == "auto":
        if device.type == "cuda" and triton_available():
            return "triton"
        return "torch"
    if name == "triton":
        if not triton_available():
            raise RuntimeError("the triton scan backend needs Triton: pip install triton")
        if device.type != "cuda" and not triton_interpreted():
            raise RuntimeError(
                "the triton scan backend runs on CUDA tensors; on CPU set TRITON_INTERPRET=1 "
                "before importing worldssm (tests only), or use backend 'torch'"
            )
    return name


def active_backend_summary() -> dict:
    """What ``worldssm info`` prints about the scan paths."""
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    return {
        "cuda_available": cuda,
        "triton_available": triton_available(),
        "triton_interpreted": triton_interpreted(),
        "default_device": str(device),
        "scan_backend_on_default_device": resolve_backend(device),
    }
