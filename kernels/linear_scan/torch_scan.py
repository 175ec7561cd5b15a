"""Fast pure-PyTorch linear scan for CPU (and any device): chunks in parallel, then carries.

Time is cut into chunks of ``CHUNK`` steps. A loop over the position inside the chunk advances
every chunk at once from a zero state (one vectorised op per step over B x chunks x N), the
chunk ends are themselves a linear scan, solved by the same function recursively, and a last
fused multiply-add adds each chunk's carry times the running product of a. About T / CHUNK + CHUNK
vectorised steps instead of T, few large allocations (page faults dominate on small machines),
and nothing divides by a cumulative product (stable when a -> 0).

Inputs here are already normalised by the public op: a (Ba, Ta, N) with Ba in {1, B} and
Ta in {1, T}, b (B, T, N), h0 (B, N) or None, cut (B, T) bool or None in *scan order*
(cut[:, i] zeroes the coefficient of step i). Computation runs in float32 / complex64.
"""

from __future__ import annotations

import torch

CHUNK = 64
SEQUENTIAL_MAX_T = 128
# A step wide enough to amortise Python's per-op overhead makes the plain loop the fastest.
SEQUENTIAL_MIN_WIDTH = 8192


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype in (torch.float64, torch.complex128, torch.complex64):
        return dtype
    return torch.float32


def effective_coeff(a: torch.Tensor, shape: torch.Size, cut: torch.Tensor | None) -> torch.Tensor:
    """a broadcast to ``shape`` (B, T, N) with zeros where ``cut`` is True."""
    if cut is None:
        return a.expand(shape)
    return a.expand(shape) * (~cut).to(a.real.dtype if a.is_complex() else a.dtype)[..., None]


def sequential_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
) -> torch.Tensor:
    """The plain loop over time (dim 1); a broadcastable to b (B, T, ...). Also a benchmark peer."""
    out = torch.empty_like(b)
    state = torch.zeros_like(b[:, 0]) if h0 is None else h0
    for t in range(b.shape[1]):
        state = torch.addcmul(b[:, t], a[:, t if a.shape[1] > 1 else 0], state)
        out[:, t] = state
    return out


def scan_forward(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t along dim 1 in scan order; a broadcastable to b (B, T, N)."""
    bsz, length, n = b.shape
    if length <= SEQUENTIAL_MAX_T or bsz * n >= SEQUENTIAL_MIN_WIDTH:
        return sequential_scan(a, b, h0)
    chunks = -(-length // CHUNK)
    pad = chunks * CHUNK - length
    a_full = a.expand(bsz, length, n)
    if pad:
        a_full = torch.cat([a_full, a_full.new_ones(bsz, pad, n)], dim=1)
        b = torch.cat([b, b.new_zeros(bsz, pad, n)], dim=1)
    a4 = a_full.reshape(bsz, chunks, CHUNK, n)
    b4 = b.reshape(bsz, chunks, CHUNK, n)
    local = torch.empty_like(b4)
    state = torch.zeros_like(b4[:, :, 0])
    for pos in range(CHUNK):
        state = torch.addcmul(b4[:, :, pos], a4[:, :, pos], state)
        local[:, :, pos] = state
    prods = torch.cumprod(a4, dim=2)
    # State at the end of every chunk, then the carry into each chunk.
    ends = scan_forward(prods[:, :, -1], local[:, :, -1], h0)
    first = torch.zeros_like(ends[:, :1]) if h0 is None else h0[:, None]
    carry = torch.cat([first, ends[:, :-1]], dim=1)
    local.addcmul_(prods, carry[:, :, None])
    return local.reshape(bsz, chunks * CHUNK, n)[:, :length]


def _to_scan_order(x: torch.Tensor | None, reverse: bool) -> torch.Tensor | None:
    if x is None or not reverse or x.shape[1] == 1:
        return x
    return x.flip(1)


def reset_to_cut(reset: torch.Tensor | None, reverse: bool) -> torch.Tensor | None:
    """Episode-start flags (B, T) -> coefficient cuts in scan order (B, T)."""
    if reset is None:
        return None
    if not reverse:
        return reset
    # Reverse scan: a reset at t+1 cuts h_t from h_{t+1}; in flipped order that is index i-1.
    flipped = reset.flip(1)
    return torch.cat([torch.zeros_like(flipped[:, :1]), flipped[:, :-1]], dim=1)


class TorchLinearScan(torch.autograd.Function):
    """Autograd wrapper: the backward is one more scan, run in the opposite direction."""

    @staticmethod
    def forward(ctx, a, b, h0, reset, reverse):
        out_dtype = b.dtype
        cdt = _compute_dtype(out_dtype)
        cut = reset_to_cut(reset, reverse)
        a_s = _to_scan_order(a.to(cdt), reverse)
        b_s = _to_scan_order(b.to(cdt), reverse)
        h0_c = None if h0 is None else h0.to(cdt)
        coeff = effective_coeff(a_s, b_s.shape, cut)
        h_s = scan_forward(coeff, b_s, h0_c)
        ctx.save_for_backward(a, h_s, h0, cut)
        ctx.reverse = reverse
        ctx.b_dtype = b.dtype
        h = _to_scan_order(h_s, reverse).to(out_dtype)
        return h, h[:, 0 if reverse else -1]

    @staticmethod
    def backward(ctx, grad_h, grad_final):
        a, h_s, h0, cut = ctx.saved_tensors
        reverse = ctx.reverse
        cdt = h_s.dtype
        bsz, length, n = h_s.shape
        g_in = torch.zeros_like(h_s) if grad_h is None else _to_scan_order(grad_h.to(cdt), reverse)
        if grad_final is not None:
            g_in = g_in.clone()
            g_in[:, -1] += grad_final.to(cdt)
        coeff = effective_coeff(_to_scan_order(a.to(cdt), reverse), h_s.shape, cut).conj()
        # g_i = g_in_i + conj(coeff_{i+1}) g_{i+1}: a forward scan over the flipped sequence.
        shifted = torch.cat([coeff[:, 1:], coeff.new_ones(bsz, 1, n)], dim=1)
        g = scan_forward(shifted.flip(1), g_in.flip(1).contiguous(), None).flip(1)
        first = torch.zeros_like(h_s[:, :1]) if h0 is None else h0.to(cdt)[:, None]
        h_prev = torch.cat([first, h_s[:, :-1]], dim=1)
        d_coeff = g * h_prev.conj()
        if cut is not None:
            d_coeff = d_coeff * (~cut)[..., None]
        da = _to_scan_order(d_coeff, reverse)
        da = da.sum_to_size(a.shape).to(a.dtype)
        db = _to_scan_order(g, reverse).to(ctx.b_dtype)
        dh0 = None
        if h0 is not None and ctx.needs_input_grad[2]:
            dh0 = (coeff[:, 0] * g[:, 0]).to(h0.dtype)
        return da, db, dh0, None, None


def linear_scan_torch(a, b, h0, reset, reverse):
    """Normalised-layout entry point: returns h (B, T, N) and the final state (B, N)."""
    return TorchLinearScan.apply(a, b, h0, reset, reverse)
