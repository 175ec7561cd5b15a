"""Selective scan in plain PyTorch for CPU: chunks of time on the shared linear scan.

Per chunk of ``CHUNK`` steps the (B, D, chunk, N) coefficients are built, scanned with the
PyTorch linear-scan path (with autograd) and contracted with C; only one chunk's
(B, D, chunk, N) tensors are alive at a time in the forward pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from worldssm.kernels.linear_scan.torch_scan import linear_scan_torch
from worldssm.kernels.selective_scan.naive import expand_groups, prepare_delta

CHUNK = 128


def _chunk_of(x: torch.Tensor, d_inner: int, bsz: int, start: int, stop: int) -> torch.Tensor:
    """B or C restricted to [start, stop) as (B, D|1, N, l)."""
    if x.dim() == 2:  # (D, N): time-invariant
        return x[None, :, :, None].expand(bsz, -1, -1, stop - start)
    if x.dim() == 3:  # (B, N, L): shared by all channels
        return x[:, None, :, start:stop]
    return expand_groups(x[..., start:stop], d_inner)


def selective_scan_torch(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, h0=None
):
    """Same contract as the naive reference; differentiable through PyTorch autograd."""
    dtype_in = u.dtype
    cdt = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, A, B, C = u.to(cdt), A.to(cdt), B.to(cdt), C.to(cdt)
    bias = None if delta_bias is None else delta_bias.to(cdt)
    delta = prepare_delta(delta.to(cdt), bias, delta_softplus)
    bsz, d_inner, length = u.shape
    n = A.shape[1]
    state = u.new_zeros(bsz, d_inner * n) if h0 is None else h0.to(cdt).reshape(bsz, -1)
    ys = []
    for start in range(0, length, CHUNK):
        stop = min(start + CHUNK, length)
        d_c = delta[:, :, start:stop]  # (B, D, l)
        coeff = torch.exp(d_c[..., None] * A[:, None, :])  # (B, D, l, N)
        b_c = _chunk_of(B, d_inner, bsz, start, stop).transpose(-1, -2)  # (B, D|1, l, N)
        inp = (d_c * u[:, :, start:stop])[..., None] * b_c
        l_c = stop - start
        # (B, D, l, N) -> (B, l, D*N) for the scan along time.
        coeff_t = coeff.permute(0, 2, 1, 3).reshape(bsz, l_c, d_inner * n)
        inp_t = inp.permute(0, 2, 1, 3).reshape(bsz, l_c, d_inner * n)
        h, state = linear_scan_torch(coeff_t, inp_t, state, None, False)
        x = h.reshape(bsz, l_c, d_inner, n).permute(0, 2, 1, 3)  # (B, D, l, N)
        c_c = _chunk_of(C, d_inner, bsz, start, stop).transpose(-1, -2)
        ys.append((x * c_c).sum(-1))
    out = torch.cat(ys, dim=-1)
    if D is not None:
        out = out + u * D.to(cdt)[:, None]
    if z is not None:
        out = out * F.silu(z.to(cdt))
    return out.to(dtype_in), state.reshape(bsz, d_inner, n)
