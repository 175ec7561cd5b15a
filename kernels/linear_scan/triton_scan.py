"""Triton linear scan: one fused pass over memory forward, one backward.

Each program owns one batch row and ``BLOCK_N`` state elements and walks time in tiles of
``BLOCK_T`` steps: a tile of a and b is loaded (coalesced along the state axis), scanned with
``tl.associative_scan`` along time, combined with the carry from the previous tile and stored.
Forward traffic is read a, read b, write h (a read once per program when time-invariant);
backward reads a, h, dh and writes db and da (da reduced in registers when a is time-invariant).
Reverse scans map the tile index onto time backwards instead of using ``reverse=True`` (which has
had wrong results for non-commutative combines on GPU).

Complex tensors travel as interleaved float32 pairs (``torch.view_as_real``).
Layout after normalisation: a (Ba, Ta, N), b and h (B, T, N), h0 (B, N), reset (B, T).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from worldssm.kernels.backend import triton_interpreted


def _tile(block_t: int, block_n: int, warps: int) -> triton.Config:
    return triton.Config({"BLOCK_T": block_t, "BLOCK_N": block_n}, num_warps=warps)


# Tile shapes (BLOCK_T, BLOCK_N, warps), tuned per (N, T bucket, dtype, a constant, complex).
# Wide tiles (BLOCK_N = 32 x warps x vector) keep the scan along time inside each thread; narrow
# ones (BLOCK_N = 8: 32-byte rows, lanes along time) give more programs when B x N is small.
# Sweep on an H100: benchmarks/results/tune-linear-scan-h100.log.
_CONFIGS = (
    [_tile(8, 16, 1)]
    if triton_interpreted()
    else [_tile(*c) for c in [(16, 256, 2), (32, 128, 1), (64, 32, 1), (128, 32, 1),
                              (16, 128, 4), (128, 16, 4), (256, 8, 4), (128, 8, 2)]]
)  # fmt: skip


@triton.jit
def _combine_real(a1, b1, a2, b2):
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _combine_complex(ar1, ai1, br1, bi1, ar2, ai2, br2, bi2):
    return (
        ar2 * ar1 - ai2 * ai1,
        ar2 * ai1 + ai2 * ar1,
        ar2 * br1 - ai2 * bi1 + br2,
        ar2 * bi1 + ai2 * br1 + bi2,
    )


@triton.jit
def _last_row(x, BLOCK_T: tl.constexpr):
    rows = tl.arange(0, BLOCK_T)
    return tl.sum(tl.where((rows == BLOCK_T - 1)[:, None], x, 0.0), axis=0)


@triton.jit
def _cut_at(reset_ptr, t, valid, T, REVERSE: tl.constexpr):
    """1.0 where the coefficient of the step at time t is cut by an episode start."""
    if REVERSE:
        r = tl.load(reset_ptr + t + 1, mask=valid & (t + 1 < T), other=0)
    else:
        r = tl.load(reset_ptr + t, mask=valid, other=0)
    return r != 0


@triton.autotune(configs=_CONFIGS, key=["N", "T_BUCKET", "A_CONST", "COMPLEX"])
@triton.jit
def _scan_fwd_kernel(
    A, X, H0, RESET, H, HT,
    T, N, T_BUCKET, stride_ab, stride_at,
    HAS_H0: tl.constexpr, HAS_RESET: tl.constexpr, REVERSE: tl.constexpr,
    A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
    BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    n_blocks = tl.cdiv(N, BLOCK_N)
    row = (pid // n_blocks).to(tl.int64)
    offs_n = (pid % n_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    W: tl.constexpr = 2 if COMPLEX else 1  # floats per element
    x_row = X + row * T * N * W
    h_row = H + row * T * N * W
    a_row = A + row * stride_ab * W
    reset_row = RESET + row * T

    cr = tl.zeros([BLOCK_N], dtype=tl.float32)
    ci = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_H0:
        cr = tl.load(H0 + (row * N + offs_n) * W, mask=mask_n, other=0.0).to(tl.float32)
        if COMPLEX:
            ci = tl.load(H0 + (row * N + offs_n) * W + 1, mask=mask_n, other=0.0).to(tl.float32)
    if A_CONST:
        a_cr = tl.load(a_row + offs_n * W, mask=mask_n, other=1.0).to(tl.float32)
        if COMPLEX:
            a_ci = tl.load(a_row + offs_n * W + 1, mask=mask_n, other=0.0).to(tl.float32)

    for k in range(0, tl.cdiv(T, BLOCK_T)):
        i = k * BLOCK_T + tl.arange(0, BLOCK_T)
        valid = i < T
        if REVERSE:
            t = T - 1 - i
        else:
            t = i
        t = t.to(tl.int64)
        m2 = valid[:, None] & mask_n[None, :]
        off = (t[:, None] * N + offs_n[None, :]) * W
        xr = tl.load(x_row + off, mask=m2, other=0.0).to(tl.float32)
        if A_CONST:
            ar = tl.where(valid[:, None], a_cr[None, :], 1.0)
        else:
            a_off = (t[:, None] * stride_at + offs_n[None, :]) * W
            ar = tl.load(a_row + a_off, mask=m2, other=1.0).to(tl.float32)
        if HAS_RESET:
            cut = _cut_at(reset_row, t, valid, T, REVERSE)
            ar = tl.where(cut[:, None], 0.0, ar)
        if COMPLEX:
            xi = tl.load(x_row + off + 1, mask=m2, other=0.0).to(tl.float32)
            if A_CONST:
                ai = tl.where(valid[:, None], a_ci[None, :], 0.0)
            else:
                ai = tl.load(a_row + a_off + 1, mask=m2, other=0.0).to(tl.float32)
            if HAS_RESET:
                ai = tl.where(cut[:, None], 0.0, ai)
            pr, pi, sr, si = tl.associative_scan((ar, ai, xr, xi), 0, _combine_complex)
            hr = pr * cr[None, :] - pi * ci[None, :] + sr
            hi = pr * ci[None, :] + pi * cr[None, :] + si
            tl.store(h_row + off, hr.to(H.dtype.element_ty), mask=m2)
            tl.store(h_row + off + 1, hi.to(H.dtype.element_ty), mask=m2)
            cr = _last_row(hr, BLOCK_T)
            ci = _last_row(hi, BLOCK_T)
        else:
            pr, sr = tl.associative_scan((ar, xr), 0, _combine_real)
            hr = pr * cr[None, :] + sr
            tl.store(h_row + off, hr.to(H.dtype.element_ty), mask=m2)
            cr = _last_row(hr, BLOCK_T)
    tl.store(HT + (row * N + offs_n) * W, cr.to(HT.dtype.element_ty), mask=mask_n)
    if COMPLEX:
        tl.store(HT + (row * N + offs_n) * W + 1, ci.to(HT.dtype.element_ty), mask=mask_n)


@triton.autotune(configs=_CONFIGS, key=["N", "T_BUCKET", "A_CONST", "COMPLEX"])
@triton.jit
def _scan_bwd_kernel(
    A, H, H0, RESET, GH, GHT, DX, DA, DH0,
    T, N, T_BUCKET, stride_ab, stride_at,
    HAS_H0: tl.constexpr, HAS_RESET: tl.constexpr, HAS_GHT: tl.constexpr,
    REVERSE: tl.constexpr, A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
    BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    # Scan index i runs in the forward scan's order; the backward visits i = T-1 ... 0:
    #   g_i = dh_i + conj(a_eff_{i+1}) g_{i+1},  dx_i = g_i,  da_i = g_i conj(h_{i-1}) keep_i.
    pid = tl.program_id(0)
    n_blocks = tl.cdiv(N, BLOCK_N)
    row = (pid // n_blocks).to(tl.int64)
    offs_n = (pid % n_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    W: tl.constexpr = 2 if COMPLEX else 1
    base = row * T * N * W
    a_row = A + row * stride_ab * W
    reset_row = RESET + row * T
    STEP: tl.constexpr = -1 if REVERSE else 1  # time step between consecutive scan indices

    cr = tl.zeros([BLOCK_N], dtype=tl.float32)
    ci = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_GHT:
        cr = tl.load(GHT + (row * N + offs_n) * W, mask=mask_n, other=0.0).to(tl.float32)
        if COMPLEX:
            ci = tl.load(GHT + (row * N + offs_n) * W + 1, mask=mask_n, other=0.0).to(tl.float32)
    h0r = tl.zeros([BLOCK_N], dtype=tl.float32)
    h0i = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_H0:
        h0r = tl.load(H0 + (row * N + offs_n) * W, mask=mask_n, other=0.0).to(tl.float32)
        if COMPLEX:
            h0i = tl.load(H0 + (row * N + offs_n) * W + 1, mask=mask_n, other=0.0).to(tl.float32)
    a_cr = tl.zeros([BLOCK_N], dtype=tl.float32)
    a_ci = tl.zeros([BLOCK_N], dtype=tl.float32)
    if A_CONST:
        a_cr = tl.load(a_row + offs_n * W, mask=mask_n, other=1.0).to(tl.float32)
        if COMPLEX:
            a_ci = tl.load(a_row + offs_n * W + 1, mask=mask_n, other=0.0).to(tl.float32)
    dar_acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    dai_acc = tl.zeros([BLOCK_N], dtype=tl.float32)

    for k in range(0, tl.cdiv(T, BLOCK_T)):
        j = k * BLOCK_T + tl.arange(0, BLOCK_T)
        valid = j < T
        i = T - 1 - j
        if REVERSE:
            t = j
        else:
            t = i
        t = t.to(tl.int64)
        m2 = valid[:, None] & mask_n[None, :]
        off = (t[:, None] * N + offs_n[None, :]) * W
        # Coefficient of the next scan step (i + 1), conjugated; 1 past the end.
        t_next = t + STEP
        has_next = valid & (i + 1 < T)
        mn = has_next[:, None] & mask_n[None, :]
        if A_CONST:
            nr = tl.where(has_next[:, None], a_cr[None, :], 1.0)
        else:
            n_off = (t_next[:, None] * stride_at + offs_n[None, :]) * W
            nr = tl.load(a_row + n_off, mask=mn, other=1.0).to(tl.float32)
        if HAS_RESET:
            cut_next = _cut_at(reset_row, t_next, has_next, T, REVERSE)
            nr = tl.where(cut_next[:, None], 0.0, nr)
        gr_in = tl.load(GH + base + off, mask=m2, other=0.0).to(tl.float32)
        # Previous state h_{i-1} (h0 at i = 0).
        has_prev = valid & (i >= 1)
        mp = has_prev[:, None] & mask_n[None, :]
        p_off = ((t - STEP)[:, None] * N + offs_n[None, :]) * W
        hpr = tl.load(H + base + p_off, mask=mp, other=0.0).to(tl.float32)
        hpr = tl.where((i == 0)[:, None], h0r[None, :], hpr)
        keep = valid[:, None] & mask_n[None, :]
        if HAS_RESET:
            cut = _cut_at(reset_row, t, valid, T, REVERSE)
            keep = keep & ~cut[:, None]
        if COMPLEX:
            if A_CONST:
                ni = tl.where(has_next[:, None], a_ci[None, :], 0.0)
            else:
                ni = tl.load(a_row + n_off + 1, mask=mn, other=0.0).to(tl.float32)
            if HAS_RESET:
                ni = tl.where(cut_next[:, None], 0.0, ni)
            gi_in = tl.load(GH + base + off + 1, mask=m2, other=0.0).to(tl.float32)
            pr, pi, sr, si = tl.associative_scan((nr, -ni, gr_in, gi_in), 0, _combine_complex)
            gr = pr * cr[None, :] - pi * ci[None, :] + sr
            gi = pr * ci[None, :] + pi * cr[None, :] + si
            tl.store(DX + base + off, gr.to(DX.dtype.element_ty), mask=m2)
            tl.store(DX + base + off + 1, gi.to(DX.dtype.element_ty), mask=m2)
            cr = _last_row(gr, BLOCK_T)
            ci = _last_row(gi, BLOCK_T)
            hpi = tl.load(H + base + p_off + 1, mask=mp, other=0.0).to(tl.float32)
            hpi = tl.where((i == 0)[:, None], h0i[None, :], hpi)
            dar = tl.where(keep, gr * hpr + gi * hpi, 0.0)
            dai = tl.where(keep, gi * hpr - gr * hpi, 0.0)
            if A_CONST:
                dar_acc += tl.sum(dar, axis=0)
                dai_acc += tl.sum(dai, axis=0)
            else:
                tl.store(DA + base + off, dar.to(DA.dtype.element_ty), mask=m2)
                tl.store(DA + base + off + 1, dai.to(DA.dtype.element_ty), mask=m2)
        else:
            pr, sr = tl.associative_scan((nr, gr_in), 0, _combine_real)
            gr = pr * cr[None, :] + sr
            tl.store(DX + base + off, gr.to(DX.dtype.element_ty), mask=m2)
            cr = _last_row(gr, BLOCK_T)
            dar = tl.where(keep, gr * hpr, 0.0)
            if A_CONST:
                dar_acc += tl.sum(dar, axis=0)
            else:
                tl.store(DA + base + off, dar.to(DA.dtype.element_ty), mask=m2)
    if A_CONST:
        tl.store(DA + (row * N + offs_n) * W, dar_acc, mask=mask_n)
        if COMPLEX:
            tl.store(DA + (row * N + offs_n) * W + 1, dai_acc, mask=mask_n)
    if HAS_H0:
        # dh0 = conj(a_eff at scan index 0) * g_0; g_0 is the final carry.
        t0 = (T - 1) if REVERSE else 0
        if A_CONST:
            a0r = a_cr
            a0i = a_ci
        else:
            a0r = tl.load(a_row + (t0 * stride_at + offs_n) * W, mask=mask_n, other=0.0)
            a0r = a0r.to(tl.float32)
            a0i = tl.zeros([BLOCK_N], dtype=tl.float32)
            if COMPLEX:
                a0i = tl.load(a_row + (t0 * stride_at + offs_n) * W + 1, mask=mask_n, other=0.0)
                a0i = a0i.to(tl.float32)
        if HAS_RESET:
            if REVERSE:
                cut0 = False
            else:
                cut0 = tl.load(reset_row) != 0
            a0r = tl.where(cut0, 0.0, a0r)
            a0i = tl.where(cut0, 0.0, a0i)
        d0r = a0r * cr + a0i * ci
        tl.store(DH0 + (row * N + offs_n) * W, d0r.to(DH0.dtype.element_ty), mask=mask_n)
        if COMPLEX:
            d0i = a0r * ci - a0i * cr
            tl.store(DH0 + (row * N + offs_n) * W + 1, d0i.to(DH0.dtype.element_ty), mask=mask_n)


def _real(x: torch.Tensor | None) -> torch.Tensor | None:
    if x is None:
        return None
    x = x.contiguous()
    return torch.view_as_real(x) if x.is_complex() else x


class TritonLinearScan(torch.autograd.Function):
    """Autograd Function around the fused forward and backward kernels."""

    @staticmethod
    def forward(ctx, a, b, h0, reset, reverse):
        bsz, length, n = b.shape
        ba, ta = a.shape[:2]
        a, b = a.contiguous(), b.contiguous()
        h = torch.empty_like(b)
        h_final = torch.empty(bsz, n, dtype=b.dtype, device=b.device)
        reset_u8 = None if reset is None else reset.contiguous().view(torch.uint8)
        stride_ab = 0 if ba == 1 else ta * n
        dummy = _real(b)
        grid = lambda meta: (bsz * triton.cdiv(n, meta["BLOCK_N"]),)  # noqa: E731
        _scan_fwd_kernel[grid](
            _real(a), _real(b), dummy if h0 is None else _real(h0),
            dummy if reset_u8 is None else reset_u8, _real(h), _real(h_final),
            length, n, triton.next_power_of_2(length), stride_ab, n,
            HAS_H0=h0 is not None, HAS_RESET=reset is not None, REVERSE=reverse,
            A_CONST=ta == 1, COMPLEX=b.is_complex(),
        )  # fmt: skip
        ctx.save_for_backward(a, h, h0, reset_u8)
        ctx.reverse = reverse
        return h, h_final

    @staticmethod
    def backward(ctx, grad_h, grad_final):
        a, h, h0, reset_u8 = ctx.saved_tensors
        bsz, length, n = h.shape
        ba, ta = a.shape[:2]
        if grad_h is None:
            grad_h = torch.zeros_like(h)
        acc_dtype = torch.complex64 if h.is_complex() else torch.float32
        dx = torch.empty_like(h)
        a_const = ta == 1
        da = torch.empty(bsz, 1 if a_const else length, n, dtype=acc_dtype, device=h.device)
        dh0 = None if h0 is None else torch.empty_like(h0)
        dummy = _real(h)
        grid = lambda meta: (bsz * triton.cdiv(n, meta["BLOCK_N"]),)  # noqa: E731
        _scan_bwd_kernel[grid](
            _real(a), _real(h), dummy if h0 is None else _real(h0),
            dummy if reset_u8 is None else reset_u8, _real(grad_h),
            dummy if grad_final is None else _real(grad_final),
            _real(dx), _real(da), dummy if dh0 is None else _real(dh0),
            length, n, triton.next_power_of_2(length), 0 if ba == 1 else ta * n, n,
            HAS_H0=h0 is not None, HAS_RESET=reset_u8 is not None,
            HAS_GHT=grad_final is not None, REVERSE=ctx.reverse, A_CONST=a_const,
            COMPLEX=h.is_complex(),
        )  # fmt: skip
        if ba == 1:
            da = da.sum(0, keepdim=True)
        return da.to(a.dtype), dx, dh0, None, None


def linear_scan_triton(a, b, h0, reset, reverse):
    """Normalised-layout entry point: returns h (B, T, N) and the final state (B, N)."""
    return TritonLinearScan.apply(a, b, h0, reset, reverse)
