"""Selective scan (Mamba S6) with the semantics of mamba_ssm's ``selective_scan_fn``.

Public ops: :func:`selective_scan` (whole sequences; paths ``naive``, ``torch``, ``triton``) and
:func:`selective_step` (one recurrent step for generation).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    bsz, d_u, length = u.shape
    if (
        delta.dim() != 3
        or (delta.shape[0], delta.shape[2]) != (bsz, length)
        or (delta.shape[1] % d_u)
    ):
        raise _shape_error("delta", delta, f"(B, D, L) = ({bsz}, D, {length}) with {d_u} | D")
    d_inner = delta.shape[1]  # u may hold fewer channels, shared by the scans
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
    if z is not None and z.shape != delta.shape:
        raise _shape_error("z", z, f"(B, D, L) = {tuple(delta.shape)}")
    if h0 is not None and h0.shape != (bsz, d_inner, n):
        raise _shape_error("h0", h0, f"(B, D, N) = {(bsz, d_inner, n)}")
    named = [("u", u), ("delta", delta), ("A", A), ("B", B), ("C", C), ("D", D), ("z", z),
             ("delta_bias", delta_bias), ("h0", h0)]  # fmt: skip
    devices = {x.device for _, x in named if x is not None}
    if len(devices) > 1:
        where = ", ".join(f"{k} on {x.device}" for k, x in named if x is not None)
        raise ValueError(f"selective_scan: all inputs must be on one device; got {where}")


def _groups(x: torch.Tensor) -> int:
    """Number of B/C groups: G for (B, G, N, L), else 1."""
    return x.shape[1] if x.dim() == 4 else 1


def _reverse_flags(reverse, B, C) -> list[bool]:
    """``reverse`` (bool or one bool per group of B/C) -> G flags."""
    groups = max(_groups(B), _groups(C))
    if isinstance(reverse, bool):
        return [reverse] * groups
    flags = [bool(r) for r in reverse]
    if len(flags) != groups or (B.dim() != 4 and C.dim() != 4) or _groups(B) != _groups(C):
        raise ValueError(
            "selective_scan: reverse must be a bool, or one bool per group of grouped "
            f"(B, G, N, L) B and C; got {len(flags)} flags for B {tuple(B.shape)} and "
            f"C {tuple(C.shape)}"
        )
    return flags


def _materialize(u, delta, B, C, z, flags):
    """The index maps as plain tensors, for the reference paths.

    u (B, Du, L) -> (B, D, L) (channel c = u[:, c % Du]); channels and B/C groups whose flag is
    set are flipped along L. Returns u, delta, B, C, z and the (D,) bool mask of flipped
    channels (None when nothing is flipped); flip the output back with the same mask.
    """
    d_inner = delta.shape[1]
    if u.shape[1] != d_inner:
        u = u.repeat(1, d_inner // u.shape[1], 1)
    if not any(flags):
        return u, delta, B, C, z, None
    per_group = torch.tensor(flags, device=delta.device)
    mask = per_group.repeat_interleave(d_inner // len(flags))[:, None]  # (D, 1)

    def flip(x, m):
        return torch.where(m, x.flip(-1), x)

    def flip_bc(x):
        if x.dim() == 2:  # time-invariant
            return x
        return flip(x, per_group[:, None, None] if x.dim() == 4 else per_group[0])

    z = None if z is None else flip(z, mask)
    return flip(u, mask), flip(delta, mask), flip_bc(B), flip_bc(C), z, mask


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
    reverse: bool | Sequence[bool] = False,
):
    """Selective scan: x_t = exp(Δ_t A) x_{t-1} + Δ_t B_t u_t, y_t = C_t·x_t + D u_t, y *= silu(z).

    Args:
        u: (B, D, L) input, or (B, Du, L) with Du dividing D: channel c reads u[:, c % Du]
            (several scans of one input, e.g. SS2D's directions, without copies).
        delta: (B, D, L) step sizes Δ (before ``delta_bias`` and softplus); defines D.
        A: (D, N) real (negative for a stable scan).
        B, C: (B, N, L), grouped (B, G, N, L) (G divides D), or time-invariant (D, N).
        D: (D,) skip connection; z: (B, D, L) gate; delta_bias: (D,).
        delta_softplus: apply softplus to Δ + bias.
        h0: (B, D, N) initial state (zeros if None).
        return_final: also return the last state (B, D, N), float32.
        backend: ``"naive"``, ``"torch"`` or ``"triton"``; default ``auto``. The fused Triton
            path takes per-step B and C; time-invariant (D, N) B or C, and float64 inputs, run
            on the PyTorch path.
        reverse: scan from t = L-1 down to 0, for all channels (bool) or per group of grouped
            B/C (G bools): the result equals flipping u, delta, z, B, C along L, scanning, and
            flipping the output back; the final state is the one after t = 0.

    Returns:
        out (B, D, L) in u's dtype (and the last state if ``return_final``). Gradients flow to
        every tensor input. On the Triton path the (B, D, L, N) states never reach HBM.

    Example::

        >>> out, last = selective_scan(u, delta, A, B, C, D, z, delta_bias,
        ...                            delta_softplus=True, return_final=True)
    """
    _check(u, delta, A, B, C, D, z, delta_bias, h0)
    flags = _reverse_flags(reverse, B, C)
    name = resolve_backend(delta.device, backend)
    if name == "triton" and (
        B.dim() == 2 or C.dim() == 2 or u.dtype == torch.float64 or _groups(B) != _groups(C)
    ):
        name = "torch"  # fused kernels take per-step B/C of one grouping, in float32
    if name == "triton":
        from worldssm.kernels.selective_scan.triton_scan import selective_scan_triton

        rev_mask = sum(1 << g for g, f in enumerate(flags) if f)
        out, last = selective_scan_triton(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask
        )
        return (out, last) if return_final else out
    u, delta, B, C, z, flipped = _materialize(u, delta, B, C, z, flags)
    fn = selective_scan_naive if name == "naive" else selective_scan_torch
    out, last = fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    if flipped is not None:
        out = torch.where(flipped, out.flip(-1), out)
    return (out, last) if return_final else out
