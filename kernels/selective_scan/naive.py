"""Reference selective scan (Mamba S6): a plain loop over time, float64-capable."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def expand_groups(x: torch.Tensor, d_inner: int) -> torch.Tensor:
    """B or C (B, N, L) or (B, G, N, L) -> (B, D, N, L); each group serves D/G channels."""
    if x.dim() == 3:
        return x[:, None].expand(-1, d_inner, -1, -1)
    groups = x.shape[1]
    return x.repeat_interleave(d_inner // groups, dim=1)


def prepare_delta(delta, delta_bias, delta_softplus):
    """delta (B, D, L) with the bias added and softplus applied, as the fused kernels do."""
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    return F.softplus(delta) if delta_softplus else delta


def selective_scan_naive(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, h0=None
):
    """Mamba's selective scan, step by step; see :func:`worldssm.kernels.selective_scan`.

    Returns:
        out (B, D, L) and the last state (B, D, N), both in the dtype of ``u``'s computation
        (float32 for half inputs, float64 for float64).
    """
    dtype_in = u.dtype
    cdt = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A = u.to(cdt), delta.to(cdt), A.to(cdt)
    B, C = B.to(cdt), C.to(cdt)
    delta = prepare_delta(delta, None if delta_bias is None else delta_bias.to(cdt), delta_softplus)
    bsz, d_inner, length = u.shape
    n = A.shape[1]
    Bx = (
        B[None, :, :, None].expand(bsz, -1, -1, length)
        if B.dim() == 2
        else expand_groups(B, d_inner)
    )
    Cx = (
        C[None, :, :, None].expand(bsz, -1, -1, length)
        if C.dim() == 2
        else expand_groups(C, d_inner)
    )
    x = u.new_zeros(bsz, d_inner, n) if h0 is None else h0.to(cdt)
    ys = []
    for t in range(length):
        d_t = delta[:, :, t, None]
        x = torch.exp(d_t * A) * x + d_t * Bx[:, :, :, t] * u[:, :, t, None]
        ys.append((x * Cx[:, :, :, t]).sum(-1))
    out = torch.stack(ys, dim=-1)
    if D is not None:
        out = out + u * D.to(cdt)[:, None]
    if z is not None:
        out = out * F.silu(z.to(cdt))
    return out.to(dtype_in), x
