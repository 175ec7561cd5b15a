"""Kernels of the fused Triton selective scan (:mod:`.triton_scan` is the host side and describes
the algorithm): the tiled forward (``_selective_fwd_kernel``), the two extra passes of the
chunked forward (``_chunk_state_kernel``, ``_chunk_carry_kernel``) and the backward
(``_selective_bwd_kernel``), with their small jit helpers.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _combine(a1, b1, a2, b2):
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _softplus(x):
    return tl.where(x > 20.0, x, tl.log(1.0 + tl.exp(tl.minimum(x, 20.0))))


@triton.jit
def _load_delta(DELTA, ptrs, mask, bias, SOFTPLUS: tl.constexpr):
    """delta + bias (softplus-ed); 0 where masked. Returns (delta, pre-activation)."""
    raw = tl.load(DELTA + ptrs, mask=mask, other=0.0).to(tl.float32) + bias
    dt = _softplus(raw) if SOFTPLUS else raw
    return tl.where(mask, dt, 0.0), raw


@triton.jit
def _tile_positions(k, L, REV: tl.constexpr, BLOCK_L: tl.constexpr):
    """Scan tile ``k``'s memory positions (BLOCK_L,), increasing, and their mask.

    A launch takes one direction (the host launches each run of same-direction groups apart).
    Forward launches scan steps k*BLOCK_L ... in memory order. A launch of reversed groups scans
    from L-1 down to 0: its tile k holds memory positions L-(k+1)*BLOCK_L ... L-1-k*BLOCK_L (part
    of the last tile lies before 0), which the kernels flip into scan order in registers
    (``_flip_if``). Both directions load and store increasing positions, which the compiler
    vectorises. Positions L-1-s did not vectorise, and a per-group runtime select of the two
    cost the forward groups theirs too (H200, batches 82-83: fwd+bwd at (8, 1536, 2048, 16)
    11.97 ms with the select, 5.72 without; tests/kernels/test_selective_codegen.py checks the
    PTX). Scanning the tile in memory order with ``reverse=True`` instead compiled to 3.3x the
    forward kernel's shuffles (ptxas sm_90a: 460 against 140; 184 with the flips)."""
    if REV:
        pos = L - (k + 1) * BLOCK_L + tl.arange(0, BLOCK_L)
        ml = pos >= 0
    else:
        pos = k * BLOCK_L + tl.arange(0, BLOCK_L)
        ml = pos < L
    return pos, ml


@triton.jit
def _flip_if(x, axis: tl.constexpr, FLIPS: tl.constexpr, SITE: tl.constexpr):
    """``x`` flipped along ``axis`` in a reversed launch (FLIPS == 1): its tile between memory
    order and scan order (its own inverse). A forward launch (FLIPS even) flips the tiles of the
    sites set in FLIPS twice (same values, a reversed launch's code; faster with 16-bit inputs,
    see ``triton_scan.FLIP_FORWARD_TILES``): bit 1 (D, L) tiles in (u, delta, dout), bit 2
    (L, N) tiles (B, C, dB, dC), bit 3 (D, L) tiles out (y, du, ...). SITE is the tile's site:
    0, 1 or 2."""
    if FLIPS == 1:
        x = tl.flip(x, axis)
    elif (FLIPS >> (SITE + 1)) % 2 == 1:
        x = tl.flip(tl.flip(x, axis), axis)
    return x


@triton.jit
def _program(A, DBIAS, D, N, n_dblocks, d_first, d_per_group, HAS_DBIAS: tl.constexpr,
             BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):  # fmt: skip
    """This program's batch row (int64), channels (BLOCK_D,), states (BLOCK_N,), their masks
    (and the pair's), group, A (BLOCK_D, BLOCK_N) in float32 and the delta bias (BLOCK_D,)."""
    pid = tl.program_id(0)
    bi = (pid // n_dblocks).to(tl.int64)
    d0 = d_first + (pid % n_dblocks) * BLOCK_D  # this launch's channels start at d_first
    offs_d = d0 + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md = offs_d < D
    mn = offs_n < N
    mdn = md[:, None] & mn[None, :]
    g = d0 // d_per_group
    a = tl.load(A + offs_d[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_DBIAS:
        bias = tl.load(DBIAS + offs_d, mask=md, other=0.0).to(tl.float32)
    return bi, offs_d, offs_n, md, mn, mdn, g, a, bias


@triton.jit
def _rows(bi, offs_d, D, Du, L, SHARED_U: tl.constexpr):
    """Offsets of the channels' rows (BLOCK_D,) in the (B, D, L) tensors, and in u's."""
    row = (bi * D + offs_d) * L
    urow = row
    if SHARED_U:  # several delta channels read one u channel (Du < D)
        urow = (bi * Du + offs_d % Du) * L
    return row, urow


@triton.jit
def _tile_loads(k, U, DELTA, urow, row, b_base, c_base, sBl, sBn, sCl, sCn, offs_n, md, mn, bias,
                L, SOFTPLUS: tl.constexpr, REV: tl.constexpr, FLIPS: tl.constexpr,
                BLOCK_L: tl.constexpr):  # fmt: skip
    """Scan tile ``k``: its memory positions (BLOCK_L,), the (BLOCK_D, BLOCK_L) mask and
    offsets and the (BLOCK_L, BLOCK_N) mask (these in memory order); u and delta (BLOCK_D,
    BLOCK_L) and B and C (BLOCK_L, BLOCK_N) in float32 and in scan order; delta before
    bias/softplus in memory order."""
    pos, ml = _tile_positions(k, L, REV, BLOCK_L)
    m2 = md[:, None] & ml[None, :]
    p2 = row[:, None] + pos[None, :]
    u = tl.load(U + urow[:, None] + pos[None, :], mask=m2, other=0.0).to(tl.float32)
    dt, dt_raw = _load_delta(DELTA, p2, m2, bias[:, None], SOFTPLUS)
    mln = ml[:, None] & mn[None, :]
    bt = tl.load(b_base + pos[:, None] * sBl + offs_n[None, :] * sBn, mask=mln, other=0.0)
    ct = tl.load(c_base + pos[:, None] * sCl + offs_n[None, :] * sCn, mask=mln, other=0.0)
    u, dt = _flip_if(u, 1, FLIPS, 0), _flip_if(dt, 1, FLIPS, 0)
    bt, ct = _flip_if(bt.to(tl.float32), 0, FLIPS, 1), _flip_if(ct.to(tl.float32), 0, FLIPS, 1)
    return pos, m2, p2, mln, u, dt, dt_raw, bt, ct


@triton.jit
def _selective_fwd_kernel(
    U, DELTA, A, Bm, Cm, Dv, Z, DBIAS, H0, OUT, CKPT, LAST,
    L, D, Du, N, n_dblocks, d_first, d_per_group, n_tiles, tiles_per_chunk, n_chunks,
    sBb, sBg, sBn, sBl, sCb, sCg, sCn, sCl,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DBIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, STORE_CKPT: tl.constexpr,
    STORE_LAST: tl.constexpr, REV: tl.constexpr, FLIPS: tl.constexpr, SHARED_U: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_N: tl.constexpr,
    EARLY: tl.constexpr = False, STAGES: tl.constexpr = 1,
):  # fmt: skip
    """Grid (B * n_dblocks, n_chunks). H0: (B, D, n_chunks, N) start state of each chunk.

    EARLY: z is loaded with the tile's other inputs, before its scan (ptxas sm_90a keeps a load
    after the scan's barriers, so otherwise every tile waits for memory twice). STAGES > 1:
    Triton's pipeliner fetches the next tiles' inputs while this one computes."""
    chunk = tl.program_id(1)
    bi, offs_d, offs_n, md, mn, mdn, g, a, bias = _program(
        A, DBIAS, D, N, n_dblocks, d_first, d_per_group, HAS_DBIAS, BLOCK_D, BLOCK_N
    )
    dskip = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        dskip = tl.load(Dv + offs_d, mask=md, other=0.0).to(tl.float32)
    x = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_H0:
        h0_off = ((bi * D + offs_d[:, None]) * n_chunks + chunk) * N + offs_n[None, :]
        x = tl.load(H0 + h0_off, mask=mdn, other=0.0).to(tl.float32)
    row, urow = _rows(bi, offs_d, D, Du, L, SHARED_U)
    b_base = Bm + bi * sBb + g * sBg
    c_base = Cm + bi * sCb + g * sCg
    last_row = (tl.arange(0, BLOCK_L) == BLOCK_L - 1)[None, :, None]
    k_start = chunk * tiles_per_chunk
    k_stop = tl.minimum(k_start + tiles_per_chunk, n_tiles)

    for k in tl.range(k_start, k_stop, num_stages=STAGES):
        if STORE_CKPT:
            ck = ((bi * D + offs_d[:, None]) * n_tiles + k) * N + offs_n[None, :]
            tl.store(CKPT + ck, x, mask=mdn)
        _, m2, p2, _, u, dt, _, bt, ct = _tile_loads(
            k, U, DELTA, urow, row, b_base, c_base, sBl, sBn, sCl, sCn, offs_n, md, mn, bias, L,
            SOFTPLUS, REV, FLIPS, BLOCK_L)  # fmt: skip
        if HAS_Z and EARLY:
            zv = tl.load(Z + p2, mask=m2, other=0.0).to(tl.float32)
        d_a = tl.exp(dt[:, :, None] * a[:, None, :])
        d_bu = (dt * u)[:, :, None] * bt[None, :, :]
        p, s = tl.associative_scan((d_a, d_bu), 1, _combine)
        xs = p * x[:, None, :] + s
        y = tl.sum(xs * ct[None, :, :], axis=2)
        x = tl.sum(tl.where(last_row, xs, 0.0), axis=1)
        if HAS_D:
            y += dskip[:, None] * u
        y = _flip_if(y, 1, FLIPS, 2)  # memory order
        if HAS_Z:
            if not EARLY:
                zv = tl.load(Z + p2, mask=m2, other=0.0).to(tl.float32)
            y = y * zv * tl.sigmoid(zv)
        tl.store(OUT + p2, y.to(OUT.dtype.element_ty), mask=m2)
    if STORE_LAST:
        state_off = (bi * D + offs_d[:, None]) * N + offs_n[None, :]
        tl.store(LAST + state_off, x.to(LAST.dtype.element_ty), mask=mdn)


@triton.jit
def _chunk_state_kernel(
    U, DELTA, A, Bm, DBIAS, CSTATE, CDSUM,
    L, D, Du, N, n_dblocks, d_first, d_per_group, n_tiles, tiles_per_chunk, n_chunks,
    sBb, sBg, sBn, sBl,
    HAS_DBIAS: tl.constexpr, SOFTPLUS: tl.constexpr, REV: tl.constexpr,
    SHARED_U: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    """Pass 1, grid (B * n_dblocks, n_chunks): end state of each chunk from a zero start.

    Writes CSTATE (B, D, n_chunks, N) and CDSUM (B, D, n_chunks) = sum of delta over the chunk.
    Within a tile, x_end = exp(A T) x_start + sum_t exp(A (T - S_t)) delta_t B_t u_t with S the
    inclusive cumulative delta and T its total: every exponent is <= 0, so nothing overflows.
    """
    chunk = tl.program_id(1)
    bi, offs_d, offs_n, md, mn, mdn, g, a, bias = _program(
        A, DBIAS, D, N, n_dblocks, d_first, d_per_group, HAS_DBIAS, BLOCK_D, BLOCK_N
    )
    row, urow = _rows(bi, offs_d, D, Du, L, SHARED_U)
    b_base = Bm + bi * sBb + g * sBg
    x = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    total = tl.zeros([BLOCK_D], dtype=tl.float32)
    k_start = chunk * tiles_per_chunk
    k_stop = tl.minimum(k_start + tiles_per_chunk, n_tiles)
    for k in range(k_start, k_stop):
        pos, ml = _tile_positions(k, L, REV, BLOCK_L)
        m2 = md[:, None] & ml[None, :]
        u = tl.load(U + urow[:, None] + pos[None, :], mask=m2, other=0.0).to(tl.float32)
        dt, _ = _load_delta(DELTA, row[:, None] + pos[None, :], m2, bias[:, None], SOFTPLUS)
        bt = tl.load(b_base + pos[:, None] * sBl + offs_n[None, :] * sBn,
                     mask=ml[:, None] & mn[None, :], other=0.0).to(tl.float32)  # fmt: skip
        # (BLOCK_D, BLOCK_L) in scan order, summed in memory order (nothing else here depends on
        # the order, so a reversed launch's tile is not flipped); masked steps add 0.
        cum = tl.cumsum(dt, axis=1, reverse=REV)
        tile_sum = tl.sum(dt, axis=1)
        decay = tl.exp((tile_sum[:, None] - cum)[:, :, None] * a[:, None, :])
        inp = tl.sum(decay * ((dt * u)[:, :, None] * bt[None, :, :]), axis=1)
        x = tl.exp(tile_sum[:, None] * a) * x + inp
        total += tile_sum
    off = (bi * D + offs_d) * n_chunks + chunk
    tl.store(CSTATE + off[:, None] * N + offs_n[None, :], x, mask=mdn)
    tl.store(CDSUM + off, total, mask=md)


@triton.jit
def _chunk_carry_kernel(
    A, H0, CSTATE, CDSUM, LAST, D, N, n_dblocks, n_chunks,
    HAS_H0: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    """Pass 2, grid (B * n_dblocks,): carry states across chunks, in order.

    Overwrites CSTATE[:, :, c] (chunk c's end state from zero) with the state carried INTO chunk
    c (from h0 and all earlier chunks) and writes LAST (B, D, N), the state after the last chunk.
    """
    pid = tl.program_id(0)
    bi = (pid // n_dblocks).to(tl.int64)
    offs_d = (pid % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md = offs_d < D
    mdn = md[:, None] & (offs_n < N)[None, :]
    a = tl.load(A + offs_d[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)
    state_off = (bi * D + offs_d[:, None]) * N + offs_n[None, :]
    x = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_H0:
        x = tl.load(H0 + state_off, mask=mdn, other=0.0).to(tl.float32)
    for c in range(0, n_chunks):
        off = (bi * D + offs_d) * n_chunks + c
        s = tl.load(CSTATE + off[:, None] * N + offs_n[None, :], mask=mdn, other=0.0)
        total = tl.load(CDSUM + off, mask=md, other=0.0)
        tl.store(CSTATE + off[:, None] * N + offs_n[None, :], x, mask=mdn)
        x = tl.exp(total[:, None] * a) * x + s
    tl.store(LAST + state_off, x, mask=mdn)


@triton.jit
def _selective_bwd_kernel(
    U, DELTA, A, Bm, Cm, Dv, Z, DBIAS, CKPT, DOUT, DLAST,
    DU, DDELTA, DZ, DA_P, DB_BUF, DC_BUF, DD_P, DBIAS_P, DH0,
    L, D, Du, N, G, n_dblocks, d_first, d_per_group, n_tiles, n_slots,
    sBb, sBg, sBn, sBl, sCb, sCg, sCn, sCl,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DBIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr, HAS_DLAST: tl.constexpr, REV: tl.constexpr, FLIPS: tl.constexpr,
    SHARED_U: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_N: tl.constexpr,
    EARLY: tl.constexpr = False, STAGES: tl.constexpr = 1,
):  # fmt: skip
    """Grid (B * n_dblocks,): tiles from the last; DU is per channel of delta (B, D, L).

    EARLY, STAGES: as in ``_selective_fwd_kernel`` (EARLY: dout, z and the next step's delta
    load with the tile's other inputs)."""
    pid = tl.program_id(0)
    bi, offs_d, offs_n, md, mn, mdn, g, a, bias = _program(
        A, DBIAS, D, N, n_dblocks, d_first, d_per_group, HAS_DBIAS, BLOCK_D, BLOCK_N
    )
    step = 1  # memory offset of the next scan step: +1, or -1 in reversed groups
    if REV:
        step = -1
    dskip = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        dskip = tl.load(Dv + offs_d, mask=md, other=0.0).to(tl.float32)
    state_off = (bi * D + offs_d[:, None]) * N + offs_n[None, :]
    dx_carry = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_DLAST:
        dx_carry = tl.load(DLAST + state_off, mask=mdn, other=0.0).to(tl.float32)
    da_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dd_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    row, urow = _rows(bi, offs_d, D, Du, L, SHARED_U)
    b_base = Bm + bi * sBb + g * sBg
    c_base = Cm + bi * sCb + g * sCg
    # Channel blocks spread their dB/dC atomics over n_slots copies to cut contention.
    slot = (pid % n_dblocks) % n_slots
    buf_base = ((bi * n_slots + slot) * G + g) * N * L
    last_row = (tl.arange(0, BLOCK_L) == BLOCK_L - 1)[None, :, None]

    for kk in tl.range(0, n_tiles, num_stages=STAGES):
        k = n_tiles - 1 - kk
        ck = ((bi * D + offs_d[:, None]) * n_tiles + k) * N + offs_n[None, :]
        x0 = tl.load(CKPT + ck, mask=mdn, other=0.0)
        # u, dt, B, C and every (BLOCK_D, BLOCK_L, N) value below are in scan order; loads and
        # stores in memory order (_flip_if between them in reversed launches).
        pos, m2, p2, mln, u, dt, dt_raw, bt, ct = _tile_loads(
            k, U, DELTA, urow, row, b_base, c_base, sBl, sBn, sCl, sCn, offs_n, md, mn, bias, L,
            SOFTPLUS, REV, FLIPS, BLOCK_L)  # fmt: skip
        if REV:
            m_next = md[:, None] & (pos >= 1)[None, :]
        else:
            m_next = md[:, None] & (pos + 1 < L)[None, :]
        if EARLY:
            dout = tl.load(DOUT + p2, mask=m2, other=0.0).to(tl.float32)
            if HAS_Z:
                zv = tl.load(Z + p2, mask=m2, other=0.0).to(tl.float32)
            dt_next, _ = _load_delta(DELTA, p2 + step, m_next, bias[:, None], SOFTPLUS)
        # Recompute this tile's states from its checkpoint.
        d_a = tl.exp(dt[:, :, None] * a[:, None, :])
        d_bu = (dt * u)[:, :, None] * bt[None, :, :]
        p, s = tl.associative_scan((d_a, d_bu), 1, _combine)
        xs = p * x0[:, None, :] + s
        if not EARLY:
            dout = tl.load(DOUT + p2, mask=m2, other=0.0).to(tl.float32)
        if HAS_Z:
            if not EARLY:
                zv = tl.load(Z + p2, mask=m2, other=0.0).to(tl.float32)
            sz = tl.sigmoid(zv)
            pre = _flip_if(tl.sum(xs * ct[None, :, :], axis=2) + dskip[:, None] * u, 1, FLIPS, 2)
            dz = dout * pre * sz * (1.0 + zv * (1.0 - sz))
            tl.store(DZ + p2, dz.to(DZ.dtype.element_ty), mask=m2)
            dy = dout * zv * sz
        else:
            dy = dout
        dy = _flip_if(tl.where(m2, dy, 0.0), 1, FLIPS, 0)
        du = dy * dskip[:, None]
        if HAS_D:
            dd_acc += tl.sum(dy * u, axis=1)
        # Adjoint scan: dx_t = exp(delta_{t+1} A) dx_{t+1} + C_t dy_t, run from the tile's end.
        if not EARLY:
            dt_next, _ = _load_delta(DELTA, p2 + step, m_next, bias[:, None], SOFTPLUS)
        dt_next = _flip_if(dt_next, 1, FLIPS, 0)
        a_next = tl.exp(dt_next[:, :, None] * a[:, None, :])
        c_in = dy[:, :, None] * ct[None, :, :]
        pf, sf = tl.associative_scan((tl.flip(a_next, 1), tl.flip(c_in, 1)), 1, _combine)
        dxf = pf * dx_carry[:, None, :] + sf
        dx_carry = tl.sum(tl.where(last_row, dxf, 0.0), axis=1)
        dx = tl.flip(dxf, 1)
        # Gradients of the tile's inputs.
        dda = dx * (xs - d_bu)  # = dx * exp(delta A) * x_{t-1}
        dx_b = tl.sum(dx * bt[None, :, :], axis=2)
        d_dt = tl.sum(dda * a[:, None, :], axis=2) + dx_b * u
        du += dx_b * dt
        da_acc += tl.sum(dda * dt[:, :, None], axis=1)
        # dB and dC of the tile, (BLOCK_L, BLOCK_N) in memory order:
        db_t = _flip_if(tl.sum(dx * (dt * u)[:, :, None], axis=0), 0, FLIPS, 1)
        dc_t = _flip_if(tl.sum(dy[:, :, None] * xs, axis=0), 0, FLIPS, 1)
        buf = buf_base + offs_n[None, :] * L + pos[:, None]
        tl.atomic_add(DB_BUF + buf, db_t, mask=mln)
        tl.atomic_add(DC_BUF + buf, dc_t, mask=mln)
        d_dt = _flip_if(d_dt, 1, FLIPS, 2)  # memory order from here
        if SOFTPLUS:
            d_dt = d_dt * tl.sigmoid(dt_raw)
        d_dt = tl.where(m2, d_dt, 0.0)
        dbias_acc += tl.sum(d_dt, axis=1)
        tl.store(DDELTA + p2, d_dt.to(DDELTA.dtype.element_ty), mask=m2)
        tl.store(DU + p2, _flip_if(du, 1, FLIPS, 2).to(DU.dtype.element_ty), mask=m2)

    # dh0 = exp(delta_0 A) * dx_0; dx_carry now holds dx_0 (scan step 0: memory L-1 if reversed).
    first = 0
    if REV:
        first = L - 1
    dt0, _ = _load_delta(DELTA, row + first, md, bias, SOFTPLUS)
    dh0 = tl.exp(dt0[:, None] * a) * dx_carry
    tl.store(DH0 + state_off, dh0, mask=mdn)
    tl.store(DA_P + state_off, da_acc, mask=mdn)
    pd = bi * D + offs_d
    tl.store(DD_P + pd, dd_acc, mask=md)
    tl.store(DBIAS_P + pd, dbias_acc, mask=md)
