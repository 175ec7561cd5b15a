"""Backward tile loads of the Triton linear scan (:mod:`.triton_kernels`): which scan steps and
times backward tile k holds, and the loads of a_{i+1}, dh_i and h_{i-1} for it.

Three forms of the load, picked by the kernel's flags: one step off the tile's alignment (the
default), ``UP`` (T-major, forward-order scans: aligned loads in increasing time reordered into the
tile's decreasing order in registers, :func:`_take_rows`) and ``SHIFT`` (T-major ``REV`` tiles:
aligned loads shifted by one row in registers, plus one edge row each).
"""

from __future__ import annotations

import triton
import triton.language as tl

from worldssm.kernels.linear_scan.triton_chain import _combine_complex, _combine_real, _fold
from worldssm.kernels.linear_scan.triton_io import _cut_at, _edge_row, _load


@triton.jit
def _bwd_tile_index(k, T, mask_n, REVERSE: tl.constexpr, BLOCK_T: tl.constexpr,
                    REV: tl.constexpr = False, OFF32: tl.constexpr = False):  # fmt: skip
    """Backward tile ``k`` (visited in j = T-1-i order): scan steps i, memory times t (int64),
    valid rows, the (BLOCK_T, BLOCK_N) mask, the next scan step's times and where it exists.

    REV: the tile's rows in the opposite order (increasing i), for a scan with reverse=True."""
    STEP: tl.constexpr = -1 if REVERSE else 1
    if REV:  # i and its mask from an increasing arange: Triton sees aligned runs of times
        i = T - (k + 1) * BLOCK_T + tl.arange(0, BLOCK_T)
        j = T - 1 - i
        valid = i >= 0
    else:
        j = k * BLOCK_T + tl.arange(0, BLOCK_T)
        i = T - 1 - j
        valid = j < T
    if REVERSE:
        t = j
    else:
        t = i
    if not OFF32:
        t = t.to(tl.int64)
    m2 = valid[:, None] & mask_n[None, :]
    return i, t, valid, m2, t + STEP, valid & (i + 1 < T)


@triton.jit
def _bwd_tile_loads(A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr,
                    a_ci, REVERSE: tl.constexpr, A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
                    PACKED: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
                    UP: tl.constexpr = False, REV: tl.constexpr = False,
                    SHIFT: tl.constexpr = False, OFF32: tl.constexpr = False):  # fmt: skip
    """The global loads of backward tile ``k``: a of the next scan step, dh, h_{i-1}.

    Tiles past the end load nothing (all masked), so the prefetch of tile k + 1 needs no branch.
    UP (T-major, forward-order scans): load the tile's rows in increasing time, so that Triton
    sees consecutive addresses and vectorises, then reorder them in registers (_take_rows).
    SHIFT (REV, T-major, real, forward order): a_{i+1} and h_{i-1} are the tile's own aligned
    loads shifted by one row (_take_rows) plus one edge row, instead of loads one step off the
    tile's alignment, which Triton cannot vectorise (one 2- or 4-byte load per element).
    """
    if SHIFT:
        nr, ni, gr_in, gi_in, hpr, hpi = _bwd_tile_loads_shift(
            A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr,
            A_CONST, BLOCK_T, BLOCK_N)  # fmt: skip
    elif UP:
        nr, ni, gr_in, gi_in, hpr, hpi = _bwd_tile_loads_up(
            A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr, a_ci,
            A_CONST, BLOCK_T, BLOCK_N)  # fmt: skip
    else:
        STEP: tl.constexpr = -1 if REVERSE else 1
        i, t, valid, m2, t_next, has_next = _bwd_tile_index(k, T, mask_n, REVERSE, BLOCK_T, REV,
                                                            OFF32)  # fmt: skip
        mn = has_next[:, None] & mask_n[None, :]
        if A_CONST:
            nr = tl.where(has_next[:, None], a_cr[None, :], 1.0)
            ni = tl.where(has_next[:, None], a_ci[None, :], 0.0)
        else:
            a_off = t_next[:, None] * stride_at + acol[None, :]
            nr, ni = _load(a_row, a_off, mn, COMPLEX, 1.0, PACKED)
        gr_in, gi_in = _load(
            GH + base, t[:, None] * stride_xt + xcol[None, :], m2, COMPLEX, 0.0, PACKED
        )
        has_prev = valid & (i >= 1)
        mp = has_prev[:, None] & mask_n[None, :]
        h_off = (t - STEP)[:, None] * stride_xt + xcol[None, :]
        hpr, hpi = _load(H + base, h_off, mp, COMPLEX, 0.0, PACKED)
    return nr, ni, gr_in, gi_in, hpr, hpi


@triton.jit
def _bwd_tile_loads_shift(A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n,
                          a_cr, A_CONST: tl.constexpr, BLOCK_T: tl.constexpr,
                          BLOCK_N: tl.constexpr):  # fmt: skip
    """_bwd_tile_loads for REV tiles (rows in increasing time t = i) of a real forward-order
    T-major scan, with every tile-sized load aligned: a_{t+1} and h_{t-1} come from the aligned
    a_t and h_t tiles shifted by one row in registers, and the rows that leave the tile from one
    small edge load each."""
    i, t, valid, m2, t_next, has_next = _bwd_tile_index(k, T, mask_n, False, BLOCK_T, True)
    r = tl.arange(0, BLOCK_T)
    mn = has_next[:, None] & mask_n[None, :]
    if A_CONST:
        nr = tl.where(mn, a_cr[None, :], 1.0)
    else:
        a_al = tl.load(a_row + t[:, None] * stride_at + acol[None, :], mask=m2, other=1.0)
        t_end = (T - k * BLOCK_T).to(tl.int64)  # the step after the tile's last row
        has_end = (t_end >= 0) & (t_end < T)  # t_end < 0 only past the last tile (prefetch)
        edge = tl.load(a_row + t_end * stride_at + acol, mask=mask_n & has_end, other=1.0)
        nr = _take_rows(a_al.to(tl.float32), tl.minimum(r + 1, BLOCK_T - 1), BLOCK_T, BLOCK_N)
        nr = tl.where((r == BLOCK_T - 1)[:, None], edge.to(tl.float32)[None, :], nr)
        nr = tl.where(mn, nr, 1.0)  # rows before the start and the last step: identity
    off = t[:, None] * stride_xt + xcol[None, :]
    gr_in = tl.load(GH + base + off, mask=m2, other=0.0).to(tl.float32)
    h_al = tl.load(H + base + off, mask=m2, other=0.0).to(tl.float32)
    t_before = (T - (k + 1) * BLOCK_T - 1).to(tl.int64)  # the step before the tile's first row
    edge = tl.load(H + base + t_before * stride_xt + xcol, mask=mask_n & (t_before >= 0), other=0.0)
    hpr = _take_rows(h_al, tl.maximum(r - 1, 0), BLOCK_T, BLOCK_N)
    hpr = tl.where((r == 0)[:, None], edge.to(tl.float32)[None, :], hpr)
    zero = tl.zeros_like(gr_in)
    return nr, zero, gr_in, zero, hpr, zero


@triton.jit
def _up_times(k, T, BLOCK_T: tl.constexpr):
    """Times of backward tile ``k`` of a forward-order scan in increasing order (int64): the
    tile's rows flipped (row r holds time T - (k + 1) BLOCK_T + r; below 0: before the start)."""
    return (T - (k + 1) * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)


@triton.jit
def _take_rows(x, rows, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr):
    """``x[rows[j], :]`` for every row j: a flip or shift of the tile's rows in registers.

    tl.gather goes through shared memory (ptxas sm_90a: one barrier, no shuffles for a 1-D
    (1024,) bf16 tile, where tl.flip costs 15 barriers and 56 shuffles); a (BLOCK_T, 1) tile is
    gathered as 1-D (its 2-D gather lowers to 1024 shuffles).
    """
    if BLOCK_N == 1:
        out = tl.reshape(tl.gather(tl.reshape(x, [BLOCK_T]), rows, 0), [BLOCK_T, 1])
    else:
        out = tl.gather(x, rows[:, None] + tl.zeros([BLOCK_T, BLOCK_N], tl.int32), 0)
    return out


@triton.jit
def _bwd_tile_loads_up(A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n,
                       a_cr, a_ci, A_CONST: tl.constexpr, BLOCK_T: tl.constexpr,
                       BLOCK_N: tl.constexpr):  # fmt: skip
    """_bwd_tile_loads for a real forward-order scan: every tile load is aligned and in
    increasing time (vectorised when T is the contiguous axis); the rows are then flipped into
    the tile's (decreasing) order and a_{t+1} / h_{t-1} shifted by one row with
    :func:`_take_rows`. The two rows that fall outside the tile (a at the tile's end + 1, h at its
    start - 1) are one small load each."""
    t = _up_times(k, T, BLOCK_T)  # row r: time t0 + r
    t0 = T - (k + 1) * BLOCK_T
    j = tl.arange(0, BLOCK_T)  # tile row j (decreasing time): time t0 + BLOCK_T - 1 - j
    cols = mask_n[None, :]
    valid = (t >= 0)[:, None] & cols
    if A_CONST:  # (the flag in the tile's own order)
        has_next_rows = _bwd_tile_index(k, T, mask_n, False, BLOCK_T)[5]
        nr = tl.where(has_next_rows[:, None], a_cr[None, :], 1.0)
    else:
        off = t[:, None] * stride_at + acol[None, :]
        a_up = tl.load(a_row + off, mask=valid, other=1.0).to(tl.float32)
        # a of the step after the tile (1 past the end; t_end < 0 only past the last tile)
        t_end = (t0 + BLOCK_T).to(tl.int64)
        has_end = (t_end >= 0) & (t_end < T)
        edge = tl.load(a_row + t_end * stride_at + acol, mask=mask_n & has_end, other=1.0)
        nr = _take_rows(a_up, tl.maximum(BLOCK_T - j, 0) % BLOCK_T, BLOCK_T, BLOCK_N)
        nr = tl.where((j == 0)[:, None], edge.to(tl.float32)[None, :], nr)
        nr = tl.where((t0 + BLOCK_T - 1 - j >= 0)[:, None], nr, 1.0)  # rows before the start
    off = t[:, None] * stride_xt + xcol[None, :]
    gr_in = tl.load(GH + base + off, mask=valid, other=0.0).to(tl.float32)
    gr_in = _take_rows(gr_in, BLOCK_T - 1 - j, BLOCK_T, BLOCK_N)
    h_up = tl.load(H + base + off, mask=valid, other=0.0).to(tl.float32)
    t_before = (t0 - 1).to(tl.int64)  # h of the step before the tile
    edge = tl.load(H + base + t_before * stride_xt + xcol, mask=mask_n & (t_before >= 0), other=0.0)
    hpr = _take_rows(h_up, tl.maximum(BLOCK_T - 2 - j, 0), BLOCK_T, BLOCK_N)
    hpr = tl.where((j == BLOCK_T - 1)[:, None], edge.to(tl.float32)[None, :], hpr)
    zero = tl.zeros_like(gr_in)
    return nr, zero, gr_in, zero, hpr, zero


@triton.jit
def _bwd_chunk_aggregate(A, H, GH, a_row, base, reset_row, k_lo, k_hi, T, stride_xt, stride_at,
                         xcol, acol, mask_n, a_cr, a_ci, REVERSE: tl.constexpr,
                         A_CONST: tl.constexpr, COMPLEX: tl.constexpr, PACKED: tl.constexpr,
                         HAS_RESET: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
                         UP: tl.constexpr, REV: tl.constexpr, SHIFT: tl.constexpr,
                         OFF32: tl.constexpr):  # fmt: skip
    """The map g -> P g + S of backward tiles k_lo ... k_hi - 1 (the scan of conj(a_{i+1}) and
    dh from a zero carry): (P re, P im, S re, S im), (BLOCK_N,) float32 each. As
    :func:`.triton_fwd_tiles._fwd_chunk_aggregate`; h_{i-1}, loaded with the tile, is unused."""
    ap_r = tl.full([BLOCK_N], 1.0, tl.float32)
    ap_i = tl.zeros([BLOCK_N], dtype=tl.float32)
    as_r = tl.zeros([BLOCK_N], dtype=tl.float32)
    as_i = tl.zeros([BLOCK_N], dtype=tl.float32)
    for k in range(k_lo, k_hi):
        nr, ni, gr_in, gi_in, _, _ = _bwd_tile_loads(
            A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr, a_ci,
            REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T, BLOCK_N, UP, REV, SHIFT, OFF32)  # fmt: skip
        if HAS_RESET:
            _, _, _, _, t_next, has_next = _bwd_tile_index(k, T, mask_n, REVERSE, BLOCK_T, REV,
                                                           OFF32)  # fmt: skip
            cut_next = _cut_at(reset_row, t_next, has_next, T, REVERSE)
            nr = tl.where(cut_next[:, None], 0.0, nr)
            ni = tl.where(cut_next[:, None], 0.0, ni)
        if COMPLEX:
            pr, pi, sr, si = tl.associative_scan((nr, -ni, gr_in, gi_in), 0, _combine_complex,
                                                 reverse=REV)  # fmt: skip
            ap_r, ap_i, as_r, as_i = _fold(
                ap_r, ap_i, as_r, as_i, _edge_row(pr, BLOCK_T, REV), _edge_row(pi, BLOCK_T, REV),
                _edge_row(sr, BLOCK_T, REV), _edge_row(si, BLOCK_T, REV), COMPLEX)  # fmt: skip
        else:
            pr, sr = tl.associative_scan((nr, gr_in), 0, _combine_real, reverse=REV)
            p_e = _edge_row(pr, BLOCK_T, REV)
            s_e = _edge_row(sr, BLOCK_T, REV)
            ap_r, ap_i, as_r, as_i = _fold(ap_r, ap_i, as_r, as_i, p_e, p_e, s_e, s_e, COMPLEX)
    return ap_r, ap_i, as_r, as_i
