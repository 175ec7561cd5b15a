"""Selective scan (Mamba S6) with the semantics of mamba_ssm's ``selective_scan_fn``.

Public ops: :func:`selective_scan` (whole sequences; paths ``naive``, ``torch``, ``triton``) and
:func:`selective_step` (one recurrent step for generation).
"""

from __future__ import annotations

import torch

from worldssm.kernels.backend import resolve_backend
from worldssm.kernels.selective_scan.naive import selective_scan_naive
from worldssm.kernels.selective_scan.step import selective_step
from worldssm.kernels.selective_scan.torch_scan import selective_scan_torch

__all__ = ["selective_scan", "selective_scan_naive", "selective_step"]


def _shape_error(name, got, want):
    return ValueError(f"selective_scan: {name} must have shape {want}; got {tuple(got.shape)}")


def _check(u, delta, A, B, C, D, z, delta_bias, h0):
    if u.dim() != 3:
        raise _shape_error("u", u, "(B, D, L)")
    bsz, d_inner, length = u.shape
    if delta.shape != u.shape:
        raise _shape_error("delta", delta, f"(B, D, L) = {tuple(u.shape)}")
    if A.dim() != 2 or A.shape[0] != d_inner:
        raise _shape_error("A", A, f"(D, N) with D = {d_inner}")
    if A.is_complex():
        raise TypeError("selective_scan: complex A is not supported; use a real A (D, N)")
    n = A.shape[1]
    for name, x in (("B", B), ("C", C)):
        ok = (
            (x.dim() == 2 and x.shape == (d_inner, n))
            or (x.dim() == 3 and x.shape == (bsz, n, length))
            or (x.dim() == 4 and x.shape[0] == bsz and x.shape[2:] == (n, length))
        )
        if not ok:
            raise _shape_error(name, x, f"(D, N), (B, N, L) or (B, G, N, L) with N = {n}")
        if x.dim() == 4 and d_inner % x.shape[1]:
            raise ValueError(
                f"selective_scan: {name} has {x.shape[1]} groups, which must divide D = {d_inner}"
            )
    if D is not None and D.shape != (d_inner,):
        raise _shape_error("D", D, f"({d_inner},)")
    if delta_bias is not None and delta_bias.shape != (d_inner,):
        raise _shape_error("delta_bias", delta_bias, f"({d_inner},)")
    if z is not None and z.shape != u.shape:
        raise _shape_error("z", z, f"(B, D, L) = {tuple(u.shape)}")
    if h0 is not None and h0.shape != (bsz, d_inner, n):
        raise _shape_error("h0", h0, f"(B, D, N) = {(bsz, d_inner, n)}")
    named = [("u", u), ("delta", delta), ("A", A), ("B", B), ("C", C), ("D", D), ("z", z),
             ("delta_bias", delta_bias), ("h0", h0)]  # fmt: skip
    devices = {x.device for _, x in named if x is not None}
    if len(devices) > 1:
        where = ", ".join(f"{k} on {x.device}" for k, x in named if x is not None)
        raise ValueError(f"selective_scan: all inputs must be on one device; got {where}")


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    h0: torch.Tensor | None = None,
    return_final: bool = False,
    backend: str | None = None,
):
    """Selective scan: x_t = exp(Δ_t A) x_{t-1} + Δ_t B_t u_t, y_t = C_t·x_t + D u_t, y *= silu(z).

    Args:
        u: (B, D, L) input.
        delta: (B, D, L) step sizes Δ (before ``delta_bias`` and softplus).
        A: (D, N) real (negative for a stable scan).
        B, C: (B, N, L), grouped (B, G, N, L) (G divides D), or time-invariant (D, N).
        D: (D,) skip connection; z: (B, D, L) gate; delta_bias: (D,).
        delta_softplus: apply softplus to Δ + bias.
        h0: (B, D, N) initial state (zeros if None).
        return_final: also return the last state (B, D, N), float32.
        backend: ``"naive"``, ``"torch"`` or ``"triton"``; default ``auto``. The fused Triton
            path takes per-step B and C; time-invariant (D, N) B or C, and float64 inputs, run
            on the PyTorch path.

    Returns:
        out (B, D, L) in u's dtype (and the last state if ``return_final``). Gradients flow to
        every tensor input. On the Triton path the (B, D, L, N) states never reach HBM.

    Example::

        >>> out, last = selective_scan(u, delta, A, B, C, D, z, delta_bias,
        ...                            delta_softplus=True, return_final=True)
    """
    _check(u, delta, A, B, C, D, z, delta_bias, h0)
    name = resolve_backend(u.device, backend)
    if name == "triton" and (B.dim() == 2 or C.dim() == 2 or u.dtype == torch.float64):
        name = "torch"  # fused kernels take per-step B/C and compute in float32
    if name == "naive":
        out, last = selective_scan_naive(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    elif name == "triton":
        from worldssm.kernels.selective_scan.triton_scan import selective_scan_triton

        out, last = selective_scan_triton(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    else:
        out, last = selective_scan_torch(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    return (out, last) if return_final else out
