"""Device code of the Triton linear scan: the forward and backward kernels and their helpers.

The host side (layouts, launch, autograd) is :mod:`.triton_scan`, whose docstring describes the
two variants (single pass, chunked), the memory traffic and the layouts.

The backward's index algebra: scan index i runs in the forward scan's order and the backward
visits j = T-1-i = 0 ... T-1 (see ``_scan_bwd_kernel``). T-major backward tiles (``STRIDED``: T
is the contiguous axis) load in increasing time so that their loads vectorise, and either scan
their rows with ``reverse=True`` (``REV``, the default) or reorder them in registers (``UP``,
``_take_rows``); the backward's tile loads are in :mod:`.triton_bwd_tiles`, the forward's in
:mod:`.triton_fwd_tiles`, and the chunks' carry chain in :mod:`.triton_chain`.
"""

from __future__ import annotations

import triton
import triton.language as tl

from worldssm.kernels.linear_scan.triton_bwd_tiles import (
    _bwd_chunk_aggregate,
    _bwd_tile_index,
    _bwd_tile_loads,
    _take_rows,
    _up_times,
)
from worldssm.kernels.linear_scan.triton_chain import (
    _carry_in,
    _combine_complex,
    _combine_real,
    _take_chunk,
    _tile_done,
)
from worldssm.kernels.linear_scan.triton_fwd_tiles import (
    _fwd_chunk_aggregate,
    _fwd_tile_loads,
    _fwd_tile_times,
)
from worldssm.kernels.linear_scan.triton_io import (
    _cut_at,
    _edge_row,
    _load,
    _load_or_zeros,
    _store,
)


@triton.jit
def _program_offsets(col, T, N, stride_xb, stride_xt, stride_xn, stride_an, W: tl.constexpr,
                     BLOCK_N: tl.constexpr, STRIDED: tl.constexpr,
                     LANE_COLS: tl.constexpr):  # fmt: skip
    """Where program column ``col`` reads and writes: its batch row (int64), its state columns
    ``offs_n`` and their mask, the columns' element offsets in x (h, dh, db, da) and in a, the
    row's offset in x, and x's time stride.

    STRIDED (T-major): a column starts T elements on, int64 as N x T reaches 2^31 (B=8, N=1536,
    T=2^21). Otherwise columns are adjacent and the expressions are those from before T-major
    existed (int32 ``offs_n``, row offset T x N): the int64 form ran the default layout's long
    scans up to 21% slower or 20% faster depending on the case (GPU batch 29, one H100).

    LANE_COLS > 0 (``scan_config(lane_cols=True)``; ``triton_lane_tiles.NARROW_LANE``): the columns
    are declared contiguous in runs of LANE_COLS only, so that Triton gives each lane that many
    columns and, when the warps' lanes cover BLOCK_N, all of a tile's time steps (each thread
    scans time in its registers).
    """
    n_blocks = tl.cdiv(N, BLOCK_N)
    row = (col // n_blocks).to(tl.int64)  # int64 offsets
    offs_n = (col % n_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    if LANE_COLS > 0:
        offs_n = tl.max_contiguous(offs_n, LANE_COLS)
    mask_n = offs_n < N
    if STRIDED:
        xcol = offs_n.to(tl.int64) * stride_xn
        acol = offs_n.to(tl.int64) * stride_an
        x_off = row * stride_xb * W
    else:
        xcol = offs_n
        acol = offs_n
        x_off = row * T * N * W
        stride_xt = N
    return row, offs_n, mask_n, xcol, acol, x_off, stride_xt


@triton.jit
def _scan_fwd_kernel(
    A, X, H0, RESET, H, HT, COUNTER, STATE,
    T, N, stride_ab, stride_at, stride_an, stride_xb, stride_xt, stride_xn,
    HAS_H0: tl.constexpr, HAS_RESET: tl.constexpr, REVERSE: tl.constexpr,
    A_CONST: tl.constexpr, COMPLEX: tl.constexpr, PACKED: tl.constexpr,
    CHUNKED: tl.constexpr, MAX_POLLS: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr,
    PREFETCH: tl.constexpr = False, STRIDED: tl.constexpr = False, LANE_COLS: tl.constexpr = 0,
    STAGES: tl.constexpr = 1, OFF32: tl.constexpr = False, LOOKBACK: tl.constexpr = 0,
    INC_EVERY: tl.constexpr = 1, CHUNK_TILES: tl.constexpr = 1,
):  # fmt: skip
    # Scan index i runs 0..T-1 in scan order; time t = i, or T-1-i when REVERSE.
    # LOOKBACK, INC_EVERY (CHUNKED): the carry chain's protocol, see triton_chain.
    # CHUNK_TILES > 1 (CHUNKED): a chunk is that many tiles. Its aggregate comes from a first
    # pass over them (_fwd_chunk_aggregate) before the carry; the loop then reads them again.
    # PREFETCH, STAGES, OFF32: see _scan_bwd_kernel.
    # FOLD (lane tiles of the single pass, real): the carry enters the tile's first step, so the
    # scan yields h itself: one FMA a step instead of the products of a, a multiply and an FMA
    # (the carry is known before the scan: there is no chunk to wait for).
    FOLD: tl.constexpr = LANE_COLS > 0 and not CHUNKED and not COMPLEX
    n_tiles = tl.cdiv(T, BLOCK_T)
    n_chunks = tl.cdiv(n_tiles, CHUNK_TILES)
    if CHUNKED:
        chunk, col, k_lo, k_hi = _take_chunk(COUNTER, T, BLOCK_T, CHUNK_TILES)
    else:
        chunk = 0
        k_lo = 0
        col = tl.program_id(0)
        k_hi = n_tiles
    MULTI: tl.constexpr = CHUNKED and CHUNK_TILES > 1
    W: tl.constexpr = 2 if COMPLEX and not PACKED else 1  # tensor elements per value
    row, offs_n, mask_n, xcol, acol, x_off, stride_xt = _program_offsets(
        col, T, N, stride_xb, stride_xt, stride_xn, stride_an, W, BLOCK_N, STRIDED,
        LANE_COLS)  # fmt: skip
    x_row = X + x_off
    h_row = H + x_off
    a_row = A + row * stride_ab * W
    reset_row = RESET + row * T

    cr, ci = _load_or_zeros(H0, row * N + offs_n, mask_n, HAS_H0, COMPLEX, PACKED, BLOCK_N)
    a_cr, a_ci = _load_or_zeros(a_row, acol, mask_n, A_CONST, COMPLEX, PACKED, BLOCK_N)
    if MULTI:
        p_r, p_i, s_r, s_i = _fwd_chunk_aggregate(
            A, x_row, a_row, reset_row, k_lo, k_hi, T, stride_xt, stride_at, xcol, acol, mask_n,
            a_cr, a_ci, REVERSE, A_CONST, COMPLEX, PACKED, HAS_RESET, BLOCK_T, BLOCK_N,
            OFF32)  # fmt: skip
        cr, ci = _carry_in(STATE, row, chunk, n_chunks, offs_n, mask_n, N, cr, ci, p_r, p_i, s_r,
                           s_i, COMPLEX, LOOKBACK, MAX_POLLS)  # fmt: skip

    PIPE: tl.constexpr = PREFETCH and not CHUNKED  # a chunk is one tile: nothing to overlap
    k_first = k_lo if PIPE else n_tiles  # tile n_tiles lies past the end: loads nothing
    nxt = _fwd_tile_loads(A, x_row, a_row, k_first, T, stride_xt, stride_at, xcol, acol, mask_n,
                          a_cr, a_ci, REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T,
                          OFF32)  # fmt: skip
    for k in tl.range(k_lo, k_hi, num_stages=STAGES):
        t, valid = _fwd_tile_times(k, T, REVERSE, BLOCK_T, OFF32)
        m2 = valid[:, None] & mask_n[None, :]
        off = t[:, None] * stride_xt + xcol[None, :]
        if PIPE:
            xr, xi, ar, ai = nxt
            nxt = _fwd_tile_loads(
                A, x_row, a_row, k + 1, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr, a_ci,
                REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T, OFF32)  # fmt: skip
        else:
            xr, xi, ar, ai = _fwd_tile_loads(
                A, x_row, a_row, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr, a_ci,
                REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T, OFF32)  # fmt: skip
        if HAS_RESET:
            cut = _cut_at(reset_row, t, valid, T, REVERSE)
            ar = tl.where(cut[:, None], 0.0, ar)
            ai = tl.where(cut[:, None], 0.0, ai)
        if FOLD:
            first = (tl.arange(0, BLOCK_T) == 0)[:, None]
            xr = tl.where(first, ar * cr[None, :] + xr, xr)
            pr, sr = tl.associative_scan((ar, xr), 0, _combine_real)  # pr unused: compiled out
        elif COMPLEX:
            pr, pi, sr, si = tl.associative_scan((ar, ai, xr, xi), 0, _combine_complex)
        else:
            pr, sr = tl.associative_scan((ar, xr), 0, _combine_real)
        if CHUNKED and not MULTI:  # the carry is the previous chunk's end state (h0: chunk 0)
            if COMPLEX:
                cr, ci = _carry_in(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, pr, pi, sr,
                                   si, COMPLEX, LOOKBACK, MAX_POLLS, BLOCK_T)  # fmt: skip
            else:
                cr, ci = _carry_in(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, pr, pr, sr,
                                   sr, COMPLEX, LOOKBACK, MAX_POLLS, BLOCK_T)  # fmt: skip
        if FOLD:
            hr = sr
            hi = hr
        elif COMPLEX:
            hr = pr * cr[None, :] - pi * ci[None, :] + sr
            hi = pr * ci[None, :] + pi * cr[None, :] + si
            ci = _edge_row(hi, BLOCK_T)
        else:
            hr = pr * cr[None, :] + sr
            hi = hr
        cr = _edge_row(hr, BLOCK_T)
        if CHUNKED:  # publish first: the next chunk is waiting for it
            _tile_done(STATE, row, k, k_hi, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX,
                       LOOKBACK, INC_EVERY, CHUNK_TILES)  # fmt: skip
        _store(h_row, off, hr, hi, m2, COMPLEX, PACKED)
    _store(HT, row * N + offs_n, cr, ci, mask_n & (k_hi == n_tiles), COMPLEX, PACKED)


@triton.jit
def _scan_bwd_kernel(
    A, H, H0, RESET, GH, GHT, DX, DA, DH0, COUNTER, STATE,
    T, N, stride_ab, stride_at, stride_an, stride_xb, stride_xt, stride_xn,
    HAS_H0: tl.constexpr, HAS_RESET: tl.constexpr, HAS_GHT: tl.constexpr,
    REVERSE: tl.constexpr, A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
    PACKED: tl.constexpr, CHUNKED: tl.constexpr, MAX_POLLS: tl.constexpr,
    BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr, PREFETCH: tl.constexpr = True,
    UP: tl.constexpr = False, STRIDED: tl.constexpr = False, LANE_COLS: tl.constexpr = 0,
    REV: tl.constexpr = False, SHIFT: tl.constexpr = False, STAGES: tl.constexpr = 1,
    OFF32: tl.constexpr = False, LOOKBACK: tl.constexpr = 0, INC_EVERY: tl.constexpr = 1,
    CHUNK_TILES: tl.constexpr = 1,
):  # fmt: skip
    # Scan index i runs in the forward scan's order; the backward visits j = T-1-i = 0 ... T-1:
    #   g_i = dh_i + conj(a_eff_{i+1}) g_{i+1},  dx_i = g_i,  da_i = g_i conj(h_{i-1}) keep_i.
    # Chunks (CHUNKED) are numbered in j order: chunk k waits for chunk k-1 (later times).
    # REV: a tile's rows run in increasing i and are scanned with reverse=True (the same j-order
    # scan), so that a T-major tile loads and stores in increasing time without UP's reordering.
    # CHUNK_TILES: see _scan_fwd_kernel (the aggregate: _bwd_chunk_aggregate).
    n_tiles = tl.cdiv(T, BLOCK_T)
    n_chunks = tl.cdiv(n_tiles, CHUNK_TILES)
    if CHUNKED:
        part, col, k_lo, k_hi = _take_chunk(COUNTER, T, BLOCK_T, CHUNK_TILES)
        n_parts = n_chunks
    else:
        k_lo = 0
        col = tl.program_id(0)
        k_hi = n_tiles
        part = 0
        n_parts = 1
    MULTI: tl.constexpr = CHUNKED and CHUNK_TILES > 1
    W: tl.constexpr = 2 if COMPLEX and not PACKED else 1  # tensor elements per value
    row, offs_n, mask_n, xcol, acol, base, stride_xt = _program_offsets(
        col, T, N, stride_xb, stride_xt, stride_xn, stride_an, W, BLOCK_N, STRIDED,
        LANE_COLS)  # fmt: skip
    a_row = A + row * stride_ab * W
    reset_row = RESET + row * T

    cr, ci = _load_or_zeros(GHT, row * N + offs_n, mask_n, HAS_GHT, COMPLEX, PACKED, BLOCK_N)
    h0r, h0i = _load_or_zeros(H0, row * N + offs_n, mask_n, HAS_H0, COMPLEX, PACKED, BLOCK_N)
    a_cr, a_ci = _load_or_zeros(a_row, acol, mask_n, A_CONST, COMPLEX, PACKED, BLOCK_N)
    dar_acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    dai_acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    if MULTI:
        p_r, p_i, s_r, s_i = _bwd_chunk_aggregate(
            A, H, GH, a_row, base, reset_row, k_lo, k_hi, T, stride_xt, stride_at, xcol, acol,
            mask_n, a_cr, a_ci, REVERSE, A_CONST, COMPLEX, PACKED, HAS_RESET, BLOCK_T, BLOCK_N,
            UP, REV, SHIFT, OFF32)  # fmt: skip
        cr, ci = _carry_in(STATE, row, part, n_chunks, offs_n, mask_n, N, cr, ci, p_r, p_i, s_r,
                           s_i, COMPLEX, LOOKBACK, MAX_POLLS)  # fmt: skip

    # PREFETCH: tile k + 1's loads go out before tile k's arithmetic (one tile of software
    # pipelining by hand). Without it ptxas (sm_90a) issued half of a tile's loads only after the
    # other half had landed and been used (load registers reused), two memory round trips a tile.
    # OFF32 ((B, T, N) layout, T x N x 2 < 2^31, checked by the host): int32 time offsets. The
    # per-element int64 offsets cost ~4 integer instructions a row and 2 registers each for every
    # tile in flight (ptxas sm_90a, lane tile (32, 64, 1), 3 stages: 250 -> 128 registers).
    # STAGES > 1: Triton's pipeliner copies the loads of the next STAGES - 1 tiles into shared
    # memory (cp.async) while tile k computes. Loads in flight then hold no registers, so a
    # single pass over few columns (B x N small, T long) keeps enough bytes in flight without
    # chunks and their carry chain. 1: plain loads (no shared memory).
    PIPE: tl.constexpr = PREFETCH and not CHUNKED  # a chunk is one tile: nothing to overlap
    k_first = k_lo if PIPE else n_tiles  # tile n_tiles lies past the end: loads nothing
    nxt = _bwd_tile_loads(A, H, GH, a_row, base, k_first, T, stride_xt, stride_at, xcol, acol,
                          mask_n, a_cr, a_ci, REVERSE, A_CONST, COMPLEX, PACKED,
                          BLOCK_T, BLOCK_N, UP, REV, SHIFT, OFF32)  # fmt: skip
    for k in tl.range(k_lo, k_hi, num_stages=STAGES):
        i, t, valid, m2, t_next, has_next = _bwd_tile_index(k, T, mask_n, REVERSE, BLOCK_T, REV,
                                                            OFF32)  # fmt: skip
        off = t[:, None] * stride_xt + xcol[None, :]
        # a of the next scan step (i + 1), conjugated below, 1 past the end; dh; h_{i-1}.
        if PIPE:
            nr, ni, gr_in, gi_in, hpr, hpi = nxt
            nxt = _bwd_tile_loads(
                A, H, GH, a_row, base, k + 1, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr,
                a_ci, REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T, BLOCK_N, UP, REV,
                SHIFT, OFF32)  # fmt: skip
        else:
            nr, ni, gr_in, gi_in, hpr, hpi = _bwd_tile_loads(
                A, H, GH, a_row, base, k, T, stride_xt, stride_at, xcol, acol, mask_n, a_cr,
                a_ci, REVERSE, A_CONST, COMPLEX, PACKED, BLOCK_T, BLOCK_N, UP, REV,
                SHIFT, OFF32)  # fmt: skip
        if HAS_RESET:
            cut_next = _cut_at(reset_row, t_next, has_next, T, REVERSE)
            nr = tl.where(cut_next[:, None], 0.0, nr)
            ni = tl.where(cut_next[:, None], 0.0, ni)
        # Previous state h_{i-1} (h0 at i = 0).
        hpr = tl.where((i == 0)[:, None], h0r[None, :], hpr)
        hpi = tl.where((i == 0)[:, None], h0i[None, :], hpi)
        keep = m2
        if HAS_RESET:
            cut = _cut_at(reset_row, t, valid, T, REVERSE)
            keep = keep & ~cut[:, None]
        if COMPLEX:
            pr, pi, sr, si = tl.associative_scan((nr, -ni, gr_in, gi_in), 0, _combine_complex,
                                                 reverse=REV)  # fmt: skip
        else:
            pr, sr = tl.associative_scan((nr, gr_in), 0, _combine_real, reverse=REV)
        if CHUNKED and not MULTI:
            if COMPLEX:
                cr, ci = _carry_in(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, pr, pi, sr,
                                   si, COMPLEX, LOOKBACK, MAX_POLLS, BLOCK_T, REV)  # fmt: skip
            else:
                cr, ci = _carry_in(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, pr, pr, sr,
                                   sr, COMPLEX, LOOKBACK, MAX_POLLS, BLOCK_T, REV)  # fmt: skip
        if COMPLEX:
            gr = pr * cr[None, :] - pi * ci[None, :] + sr
            gi = pr * ci[None, :] + pi * cr[None, :] + si
            ci = _edge_row(gi, BLOCK_T, REV)
            dar = tl.where(keep, gr * hpr + gi * hpi, 0.0)
            dai = tl.where(keep, gi * hpr - gr * hpi, 0.0)
        else:
            gr = pr * cr[None, :] + sr
            gi = gr
            dar = tl.where(keep, gr * hpr, 0.0)
            dai = dar
        cr = _edge_row(gr, BLOCK_T, REV)
        if CHUNKED:
            _tile_done(STATE, row, k, k_hi, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX,
                       LOOKBACK, INC_EVERY, CHUNK_TILES)  # fmt: skip
        if UP:  # store in increasing time too (see _bwd_tile_loads)
            t_up = _up_times(k, T, BLOCK_T)
            off_up = t_up[:, None] * stride_xt + xcol[None, :]
            m_up = (t_up >= 0)[:, None] & mask_n[None, :]
            flip = BLOCK_T - 1 - tl.arange(0, BLOCK_T)
            dx_up = _take_rows(gr, flip, BLOCK_T, BLOCK_N)
            tl.store(DX + base + off_up, dx_up.to(DX.dtype.element_ty), mask=m_up)
        else:
            _store(DX + base, off, gr, gi, m2, COMPLEX, PACKED)
        if A_CONST:
            dar_acc += tl.sum(dar, axis=0)
            dai_acc += tl.sum(dai, axis=0)
        else:
            if UP:
                da_up = _take_rows(dar, flip, BLOCK_T, BLOCK_N)
                tl.store(DA + base + off_up, da_up.to(DA.dtype.element_ty), mask=m_up)
            else:
                _store(DA + base, off, dar, dai, m2, COMPLEX, PACKED)
    if A_CONST:  # partial sums (B, n_parts, N): one part per chunk when CHUNKED
        _store(DA, (row * n_parts + part) * N + offs_n, dar_acc, dai_acc, mask_n, COMPLEX, PACKED)
    if HAS_H0:
        # dh0 = conj(a_eff at scan index 0) * g_0; g_0 is the carry after the last chunk.
        if A_CONST:
            a0r = a_cr
            a0i = a_ci
        else:
            a0_off = acol
            if REVERSE:  # int64: (T - 1) x stride_at can pass 2^31
                a0_off = acol + (T - 1).to(tl.int64) * stride_at
            a0r, a0i = _load(a_row, a0_off, mask_n, COMPLEX, 0.0, PACKED)
        if HAS_RESET:
            if not REVERSE:
                cut0 = tl.load(reset_row) != 0
                a0r = tl.where(cut0, 0.0, a0r)
                a0i = tl.where(cut0, 0.0, a0i)
        d0r = a0r * cr + a0i * ci
        d0i = a0r * ci - a0i * cr
        _store(DH0, row * N + offs_n, d0r, d0i, mask_n & (k_hi == n_tiles), COMPLEX, PACKED)
