"""Forward tile loads of the Triton linear scan (:mod:`.triton_kernels`): the times forward tile
k holds, its loads of x and a, and a chunk's aggregate over several tiles (``CHUNK_TILES``).
"""

from __future__ import annotations

import triton
import triton.language as tl

from worldssm.kernels.linear_scan.triton_chain import _combine_complex, _combine_real, _fold
from worldssm.kernels.linear_scan.triton_io import _cut_at, _edge_row, _load


@triton.jit
def _fwd_tile_times(k, T, REVERSE: tl.constexpr, BLOCK_T: tl.constexpr, OFF32: tl.constexpr):
    """Memory times of forward tile ``k`` (int64, or int32 when OFF32: the host checks that T x N
    fits; see _scan_bwd_kernel) and which of its rows lie inside the sequence."""
    i = k * BLOCK_T + tl.arange(0, BLOCK_T)
    valid = i < T
    if REVERSE:
        t = T - 1 - i
    else:
        t = i
    if not OFF32:
        t = t.to(tl.int64)
    return t, valid


@triton.jit
def _fwd_tile_loads(A, x_row, a_row, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr, a_ci,
                    REVERSE: tl.constexpr, A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
                    PACKED: tl.constexpr, BLOCK_T: tl.constexpr,
                    OFF32: tl.constexpr = False):  # fmt: skip
    """Forward tile ``k``: x and a (1 past the end, so the last state carries through).

    Tiles past the end load nothing (all masked), so a prefetch of tile k + 1 needs no branch.
    """
    t, valid = _fwd_tile_times(k, T, REVERSE, BLOCK_T, OFF32)
    m2 = valid[:, None] & mask_n[None, :]
    xr, xi = _load(x_row, t[:, None] * stride_xt + xcol[None, :], m2, COMPLEX, 0.0, PACKED)
    if A_CONST:
        ar = tl.where(valid[:, None], a_cr[None, :], 1.0)
        ai = tl.where(valid[:, None], a_ci[None, :], 0.0)
    else:
        ar, ai = _load(a_row, t[:, None] * stride_at + acol[None, :], m2, COMPLEX, 1.0, PACKED)
    return xr, xi, ar, ai


@triton.jit
def _fwd_chunk_aggregate(A, x_row, a_row, reset_row, k_lo, k_hi, T, stride_xt, stride_at, xcol,
                         acol, mask_n, a_cr, a_ci, REVERSE: tl.constexpr, A_CONST: tl.constexpr,
                         COMPLEX: tl.constexpr, PACKED: tl.constexpr, HAS_RESET: tl.constexpr,
                         BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
                         OFF32: tl.constexpr):  # fmt: skip
    """The map c -> P c + S of forward tiles k_lo ... k_hi - 1 from a zero carry: (P re, P im,
    S re, S im), (BLOCK_N,) float32 each. The kernel then loads the same tiles again, with the
    carry (from L2 when they are recent)."""
    ap_r = tl.full([BLOCK_N], 1.0, tl.float32)
    ap_i = tl.zeros([BLOCK_N], dtype=tl.float32)
    as_r = tl.zeros([BLOCK_N], dtype=tl.float32)
    as_i = tl.zeros([BLOCK_N], dtype=tl.float32)
    for k in range(k_lo, k_hi):
        xr, xi, ar, ai = _fwd_tile_loads(A, x_row, a_row, k, T, stride_xt, stride_at, xcol, acol,
                                         mask_n, a_cr, a_ci, REVERSE, A_CONST, COMPLEX, PACKED,
                                         BLOCK_T, OFF32)  # fmt: skip
        if HAS_RESET:
            t, valid = _fwd_tile_times(k, T, REVERSE, BLOCK_T, OFF32)
            cut = _cut_at(reset_row, t, valid, T, REVERSE)
            ar = tl.where(cut[:, None], 0.0, ar)
            ai = tl.where(cut[:, None], 0.0, ai)
        if COMPLEX:
            pr, pi, sr, si = tl.associative_scan((ar, ai, xr, xi), 0, _combine_complex)
            ap_r, ap_i, as_r, as_i = _fold(ap_r, ap_i, as_r, as_i, _edge_row(pr, BLOCK_T),
                                           _edge_row(pi, BLOCK_T), _edge_row(sr, BLOCK_T),
                                           _edge_row(si, BLOCK_T), COMPLEX)  # fmt: skip
        else:
            pr, sr = tl.associative_scan((ar, xr), 0, _combine_real)
            p_e = _edge_row(pr, BLOCK_T)
            s_e = _edge_row(sr, BLOCK_T)
            ap_r, ap_i, as_r, as_i = _fold(ap_r, ap_i, as_r, as_i, p_e, p_e, s_e, s_e, COMPLEX)
    return ap_r, ap_i, as_r, as_i
