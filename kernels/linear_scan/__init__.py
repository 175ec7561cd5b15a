"""The diagonal linear recurrence h_t = a_t * h_{t-1} + b_t over tensor-valued states.

Public op: :func:`linear_scan`. Paths: ``naive`` (loop over t, the reference), ``torch`` (chunked
doubling scan, the CPU path) and ``triton`` (a single pass over T by default, plus an opt-in
chunked variant); see :mod:`worldssm.kernels.backend` for choosing one.
"""

from __future__ import annotations

import math

import torch

from worldssm.kernels.backend import resolve_backend
from worldssm.kernels.linear_scan.naive import linear_scan_naive
from worldssm.kernels.linear_scan.torch_scan import linear_scan_torch

__all__ = ["linear_scan", "linear_scan_naive"]

_DTYPES = (
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.float64,
    torch.complex64,
    torch.complex128,
)


def _check(a, b, h0, reset):
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError("linear_scan: a and b must be torch.Tensors")
    if b.dim() < 2:
        raise ValueError(f"linear_scan: b must have shape (B, T, *S); got {tuple(b.shape)}")
    if a.dim() > b.dim():
        raise ValueError(f"linear_scan: a {tuple(a.shape)} has more dims than b {tuple(b.shape)}")
    # By hand: torch.broadcast_shapes took ~50 us a call, a third of the host time of a scan.
    trailing = b.shape[b.dim() - a.dim() :]
    if any(da not in (1, db) for da, db in zip(a.shape, trailing, strict=True)):
        raise ValueError(
            f"linear_scan: a {tuple(a.shape)} must broadcast to b {tuple(b.shape)} "
            "(a is (B|1, T|1, *S) with size-1 dims where it is shared)"
        )
    for name, t in (("a", a), ("b", b)):
        if t.dtype not in _DTYPES:
            raise TypeError(f"linear_scan: {name} has dtype {t.dtype}; use one of {_DTYPES}")
    if a.is_complex() and not b.is_complex():
        raise TypeError("linear_scan: a is complex but b is real; make b complex too")
    tensors = [("a", a), ("b", b)]
    if h0 is not None:
        if h0.shape != b.shape[:1] + b.shape[2:]:
            raise ValueError(
                f"linear_scan: h0 must have shape (B, *S) = {tuple(b.shape[:1] + b.shape[2:])}; "
                f"got {tuple(h0.shape)}"
            )
        tensors.append(("h0", h0))
    if reset is not None:
        if reset.shape != b.shape[:2]:
            raise ValueError(
                f"linear_scan: reset must have shape (B, T) = {tuple(b.shape[:2])}; "
                f"got {tuple(reset.shape)}"
            )
        if reset.dtype != torch.bool:
            raise TypeError(f"linear_scan: reset must be a bool tensor; got {reset.dtype}")
        tensors.append(("reset", reset))
    devices = {t.device for _, t in tensors}
    if len(devices) > 1:
        where = ", ".join(f"{n} on {t.device}" for n, t in tensors)
        raise ValueError(f"linear_scan: all inputs must be on one device; got {where}")


def flatten_inputs(a, b, h0):
    """a (Ba, Ta, N), b (B, T, N) and h0 (B, N) for a broadcastable to b (B, T, *S), h0 (B, *S).

    a is expanded over the state dims only (cheap: no B or T). Also returns a's shape padded to
    b's rank, for reducing da back. (B, T, N) inputs skip the views (host time per call).
    """
    if b.dim() == 3 and a.dim() == 3 and a.shape[2] == b.shape[2]:
        return a, b, h0, a.shape
    bsz, length, *state = b.shape
    n = math.prod(state)
    a_full = a.reshape((1,) * (b.dim() - a.dim()) + a.shape)
    ba, ta = a_full.shape[:2]
    a_n = a_full.expand(ba, ta, *state).reshape(ba, ta, n)
    h0_n = None if h0 is None else h0.reshape(bsz, n)
    return a_n, b.reshape(bsz, length, n), h0_n, a_full.shape


def linear_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reset: torch.Tensor | None = None,
    reverse: bool = False,
    return_final: bool = False,
    backend: str | None = None,
):
    """Scan h_t = a_t * h_{t-1} + b_t along dim 1, elementwise over any state shape.

    Args:
        a: coefficients, broadcastable to ``b``: (B|1, T|1, *S) with size-1 dims for what is
            shared. A time-invariant per-channel ``a`` (e.g. (P, 1, 1) for states (B, T, P, H, W))
            is never expanded over batch or time in memory. Fewer dims than ``b`` broadcast from
            the right, as in PyTorch.
        b: inputs (B, T, *S); float32, float16, bfloat16 (accumulated in float32), float64,
            complex64 or complex128 (64-bit inputs always take the exact PyTorch path). On a GPU
            a real (B, T, C) b whose T axis is contiguous (``x.transpose(1, 2)`` of a (B, C, T)
            tensor) is scanned in place for forward scans with T >= 32, and h comes back in
            that layout; other layouts are copied to (B, T, *S) first.
        h0: initial state (B, *S) or None (zeros).
        reset: (B, T) bool; True where a new episode starts: h_t = b_t there, nothing from
            before (also not h0).
        reverse: scan from the end: h_t = a_t * h_{t+1} + b_t (for bidirectional models).
        return_final: also return the last state scanned, (B, *S) (h at T-1, or at 0 if reverse).
        backend: force ``"naive"``, ``"torch"`` or ``"triton"``; default ``auto``.

    Returns:
        h (B, T, *S) in the promoted dtype of a and b, and the final state if ``return_final``.
        Gradients flow to a, b and h0.

    Example::

        >>> a = torch.rand(2, 100, 8)                # decay per step and channel
        >>> b = torch.randn(2, 100, 8)
        >>> h, h_last = linear_scan(a, b, return_final=True)
        >>> h2 = linear_scan(a, b2, h0=h_last)       # continue a chunked rollout
    """
    _check(a, b, h0, reset)
    out_dtype = torch.promote_types(a.dtype, b.dtype)
    a = a.to(out_dtype) if a.dtype != out_dtype else a
    b = b.to(out_dtype) if b.dtype != out_dtype else b
    if h0 is not None and h0.dtype != out_dtype:
        h0 = h0.to(out_dtype)
    name = resolve_backend(b.device, backend)
    if name == "triton" and out_dtype in (torch.float64, torch.complex128):
        name = "torch"  # the Triton kernels compute in float32; keep 64-bit inputs exact
    if name == "naive":
        h, final = linear_scan_naive(a, b, h0, reset, reverse)
        return (h, final) if return_final else h
    if name == "triton":  # flattens inside its autograd Function
        from worldssm.kernels.linear_scan.triton_scan import linear_scan_triton

        h, final = linear_scan_triton(a, b, h0, reset, reverse)
        return (h, final) if return_final else h
    a_n, b_n, h0_n, _ = flatten_inputs(a, b, h0)
    h, final = linear_scan_torch(a_n, b_n, h0_n, reset, reverse)
    if b.dim() != 3:
        h, final = h.reshape(b.shape), final.reshape(b.shape[:1] + b.shape[2:])
    return (h, final) if return_final else h
