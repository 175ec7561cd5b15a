"""T-major backward in register groups (``scan_config(groups=True)``; ``T_MAJOR_BWD_GROUPS``).

The backward of a real, forward-order scan whose T axis is contiguous, one sequence (batch row,
state column) a program, as ``_scan_bwd_kernel`` with REV and SHIFT computes it, without
``tl.associative_scan(reverse=True)`` over the tile and without shifting whole tiles by a row.
Under Triton 3.6 both cost many shuffles in a one-warp tile (ptxas sm_90a, a (512,) bf16 tile):
a reverse scan reverses its operands and results across the lanes (348 shuffles against 28 for
the forward scan), and a one-row shift by ``tl.gather`` costs 256.

Here tiles load in increasing time (16-byte loads of consecutive steps) and are cut into groups
of four consecutive steps with ``tl.reshape`` and ``tl.split`` (register moves: a thread's
elements are whole groups). With g_t = dh_t + a_{t+1} g_{t+1} (the backward's recurrence):

1. inside each group, unrolled from its last step: g_t = B_t + A_t g_next, where g_next is g at
   the first step of the next group;
2. across groups, one ``tl.associative_scan(reverse=True)`` of each group's (A, B) at its first
   step: a quarter of the tile, so a quarter of the reverse scan's shuffles;
3. a_{t+1} and h_{t-1} move inside a group by renaming; only a group's edge step moves to the
   neighbouring group (a ``tl.gather`` of a quarter-size tensor), and the steps next to the tile
   come from one scalar load each.

The host side (:mod:`.triton_scan`) launches this kernel in place of ``_scan_bwd_kernel`` (same
arguments) for T-major single-pass backward tiles of one column (BLOCK_N = 1). ptxas counts 150
shuffles for the bf16 (512, 1, 1) tile with a time-invariant a, against 870 for rev_scan with
shift_rows; on an H100 that backward's fwd+bwd went from 70% to 93% of copy bandwidth
(benchmarks/README.md, runs 39-41). ``tl.split`` gave wrong values on the GPU for complex
(T, N, 2) tiles (:mod:`.triton_io`); these real tiles pass the kernel tests on an H100.
"""

from __future__ import annotations

import triton
import triton.language as tl

from worldssm.kernels.linear_scan.triton_chain import _combine_real


@triton.jit
def _split4(x, G: tl.constexpr):
    """(4G,) -> x[4g], x[4g + 1], x[4g + 2], x[4g + 3], each (G,)."""
    even, odd = tl.split(tl.reshape(x, [G, 2, 2]))
    x0, x2 = tl.split(even)
    x1, x3 = tl.split(odd)
    return x0, x1, x2, x3


@triton.jit
def _join4(x0, x1, x2, x3, G: tl.constexpr):
    """The inverse of :func:`_split4`: four (G,) -> (4G,)."""
    return tl.reshape(tl.join(tl.join(x0, x2), tl.join(x1, x3)), [4 * G])


@triton.jit
def _from_next_group(x, last, G: tl.constexpr):
    """x[g + 1] for every group g, and ``last`` for the last group. x (G,)."""
    g = tl.arange(0, G)
    return tl.where(g == G - 1, last, tl.gather(x, tl.minimum(g + 1, G - 1), 0))


@triton.jit
def _from_prev_group(x, first, G: tl.constexpr):
    """x[g - 1] for every group g, and ``first`` for the first group. x (G,)."""
    g = tl.arange(0, G)
    return tl.where(g == 0, first, tl.gather(x, tl.maximum(g - 1, 0), 0))


@triton.jit
def _groups_loads(A, H, GH, a_row, x_row, reset_row, k, T, stride_xt, stride_at,
                  A_CONST: tl.constexpr, HAS_RESET: tl.constexpr,
                  BLOCK_T: tl.constexpr):  # fmt: skip
    """Tile k's loads, in their own dtypes: dh, h, a and the reset flags at times t0 + r
    (t0 = T - (k + 1) BLOCK_T: tile 0 ends at T - 1), h at t0 - 1, a and the flag at
    t0 + BLOCK_T. Times outside [0, T) load nothing (a reads 1), so the prefetch past the last
    tile needs no branch. Absent inputs (a time-invariant a, no resets) are zeros."""
    t0 = T - (k + 1) * BLOCK_T
    t = (t0 + tl.arange(0, BLOCK_T)).to(tl.int64)
    valid = t >= 0
    dh = tl.load(GH + x_row + t * stride_xt, mask=valid, other=0.0)
    h = tl.load(H + x_row + t * stride_xt, mask=valid, other=0.0)
    t_before = (t0 - 1).to(tl.int64)
    h_before = tl.load(H + x_row + t_before * stride_xt, mask=t_before >= 0, other=0.0)
    t_after = (t0 + BLOCK_T).to(tl.int64)
    has_after = (t_after >= 0) & (t_after < T)
    if A_CONST:
        a = tl.zeros([BLOCK_T], tl.float32)
        a_after = tl.zeros([], tl.float32)
    else:
        a = tl.load(a_row + t * stride_at, mask=valid, other=1.0)
        a_after = tl.load(a_row + t_after * stride_at, mask=has_after, other=1.0)
    if HAS_RESET:
        cut = tl.load(reset_row + t, mask=valid, other=0)
        cut_after = tl.load(reset_row + t_after, mask=has_after, other=0)
    else:
        cut = tl.zeros([BLOCK_T], tl.uint8)
        cut_after = tl.zeros([], tl.uint8)
    return dh, h, h_before, a, a_after, cut, cut_after


@triton.jit
def _groups_tile(loads, carry, a_c, h0, k, T, A_CONST: tl.constexpr, HAS_RESET: tl.constexpr,
                 HAS_H0: tl.constexpr, BLOCK_T: tl.constexpr):  # fmt: skip
    """Backward of tile k from its loads and the carry g_{t0 + BLOCK_T} (the gradient at the
    step after the tile): g and the da terms, four (G,) each (step 4g + j of the tile in the
    j-th), and the new carry g_{t0}. Steps before the start pass the carry through (a = 1)."""
    G: tl.constexpr = BLOCK_T // 4
    dh, h, h_before, a, a_after, cut, cut_after = loads
    tg = T - (k + 1) * BLOCK_T + 4 * tl.arange(0, G)  # time of each group's first step
    d0, d1, d2, d3 = _split4(dh.to(tl.float32), G)
    h_0, h_1, h_2, h_3 = _split4(h.to(tl.float32), G)
    # a_{t+1} of steps t = tg + j: 1 at the last step and before the start, 0 after a reset.
    if A_CONST:
        n0 = tl.full([G], 1.0, tl.float32) * a_c
        n1 = n0
        n2 = n0
        n3 = n0
    else:
        a0, a1, a2, a3 = _split4(a.to(tl.float32), G)
        n0 = a1
        n1 = a2
        n2 = a3
        n3 = _from_next_group(a0, a_after.to(tl.float32), G)
    if HAS_RESET:
        c0, c1, c2, c3 = _split4(cut, G)
        n0 = tl.where(c1 != 0, 0.0, n0)
        n1 = tl.where(c2 != 0, 0.0, n1)
        n2 = tl.where(c3 != 0, 0.0, n2)
        n3 = tl.where(_from_next_group(c0, cut_after, G) != 0, 0.0, n3)
    n0 = tl.where((tg >= 0) & (tg + 1 < T), n0, 1.0)
    n1 = tl.where((tg + 1 >= 0) & (tg + 2 < T), n1, 1.0)
    n2 = tl.where((tg + 2 >= 0) & (tg + 3 < T), n2, 1.0)
    n3 = tl.where((tg + 3 >= 0) & (tg + 4 < T), n3, 1.0)
    # Inside each group, from its last step: g_t = B_t + A_t g_next.
    b3 = d3
    b2 = d2 + n2 * b3
    b1 = d1 + n1 * b2
    b0 = d0 + n0 * b1
    m3 = n3
    m2 = n2 * m3
    m1 = n1 * m2
    m0 = n0 * m1
    # Across groups: g at each group's first step, then at the next group's.
    pa, pb = tl.associative_scan((m0, b0), 0, _combine_real, reverse=True)
    first = pb + pa * carry
    g_next = _from_next_group(first, carry, G)
    g0 = b0 + m0 * g_next
    g1 = b1 + m1 * g_next
    g2 = b2 + m2 * g_next
    g3 = b3 + m3 * g_next
    carry = tl.sum(tl.where(tl.arange(0, G) == 0, first, 0.0), axis=0)
    # h_{t-1}: h0 at t = 0, which any step of a group may hold (loads before the start read 0).
    p0 = _from_prev_group(h_3, h_before.to(tl.float32), G)
    p1 = h_0
    p2 = h_1
    p3 = h_2
    if HAS_H0:
        p0 = tl.where(tg == 0, h0, p0)
        p1 = tl.where(tg + 1 == 0, h0, p1)
        p2 = tl.where(tg + 2 == 0, h0, p2)
        p3 = tl.where(tg + 3 == 0, h0, p3)
    keep0 = tg >= 0
    keep1 = tg + 1 >= 0
    keep2 = tg + 2 >= 0
    keep3 = tg + 3 >= 0
    if HAS_RESET:  # no gradient to a where the step starts an episode
        keep0 = keep0 & (c0 == 0)
        keep1 = keep1 & (c1 == 0)
        keep2 = keep2 & (c2 == 0)
        keep3 = keep3 & (c3 == 0)
    da0 = tl.where(keep0, g0 * p0, 0.0)
    da1 = tl.where(keep1, g1 * p1, 0.0)
    da2 = tl.where(keep2, g2 * p2, 0.0)
    da3 = tl.where(keep3, g3 * p3, 0.0)
    return g0, g1, g2, g3, da0, da1, da2, da3, carry


@triton.jit
def _scan_bwd_groups_kernel(
    A, H, H0, RESET, GH, GHT, DX, DA, DH0, COUNTER, STATE,
    T, N, stride_ab, stride_at, stride_an, stride_xb, stride_xt, stride_xn,
    HAS_H0: tl.constexpr, HAS_RESET: tl.constexpr, HAS_GHT: tl.constexpr,
    REVERSE: tl.constexpr, A_CONST: tl.constexpr, COMPLEX: tl.constexpr,
    PACKED: tl.constexpr, CHUNKED: tl.constexpr, MAX_POLLS: tl.constexpr,
    BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr, PREFETCH: tl.constexpr = True,
    UP: tl.constexpr = False, STRIDED: tl.constexpr = False, LANE_COLS: tl.constexpr = 0,
    REV: tl.constexpr = False, SHIFT: tl.constexpr = False,
):  # fmt: skip
    # Arguments as _scan_bwd_kernel's; COUNTER, STATE, PACKED, MAX_POLLS, UP, LANE_COLS, REV
    # and SHIFT are unused. Tiles run from the end of time to its start (tile 0 ends at T - 1).
    tl.static_assert(BLOCK_N == 1 and BLOCK_T >= 8, "groups: one column, BLOCK_T >= 8")
    tl.static_assert(not (REVERSE or COMPLEX or CHUNKED), "groups: real forward-order single")
    G: tl.constexpr = BLOCK_T // 4
    col = tl.program_id(0)
    row = (col // N).to(tl.int64)
    n = (col % N).to(tl.int64)
    x_row = row * stride_xb + n * stride_xn
    a_row = A + row * stride_ab + n * stride_an
    reset_row = RESET + row * T
    carry = tl.zeros([], tl.float32)
    if HAS_GHT:
        carry += tl.load(GHT + row * N + n).to(tl.float32)
    h0 = 0.0
    if HAS_H0:
        h0 = tl.load(H0 + row * N + n).to(tl.float32)
    a_c = 1.0
    if A_CONST:
        a_c = tl.load(a_row).to(tl.float32)
    da_acc = tl.zeros([], tl.float32)
    n_tiles = tl.cdiv(T, BLOCK_T)
    # PREFETCH: tile k + 1's loads go out before tile k's arithmetic (as in _scan_bwd_kernel).
    k_first = 0 if PREFETCH else n_tiles  # tile n_tiles lies before the start: loads nothing
    nxt = _groups_loads(A, H, GH, a_row, x_row, reset_row, k_first, T, stride_xt, stride_at,
                        A_CONST, HAS_RESET, BLOCK_T)  # fmt: skip
    for k in range(0, n_tiles):
        if PREFETCH:
            cur = nxt
            nxt = _groups_loads(A, H, GH, a_row, x_row, reset_row, k + 1, T, stride_xt,
                                stride_at, A_CONST, HAS_RESET, BLOCK_T)  # fmt: skip
        else:
            cur = _groups_loads(A, H, GH, a_row, x_row, reset_row, k, T, stride_xt, stride_at,
                                A_CONST, HAS_RESET, BLOCK_T)  # fmt: skip
        g0, g1, g2, g3, da0, da1, da2, da3, carry = _groups_tile(
            cur, carry, a_c, h0, k, T, A_CONST, HAS_RESET, HAS_H0, BLOCK_T
        )
        t = (T - (k + 1) * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)
        off = x_row + t * stride_xt
        tl.store(DX + off, _join4(g0, g1, g2, g3, G).to(DX.dtype.element_ty), mask=t >= 0)
        if A_CONST:
            da_acc += tl.sum(da0 + da1 + da2 + da3, axis=0)
        else:
            da = _join4(da0, da1, da2, da3, G)
            tl.store(DA + off, da.to(DA.dtype.element_ty), mask=t >= 0)
    if A_CONST:  # one partial sum (B, 1, N)
        tl.store(DA + row * N + n, da_acc)
    if HAS_H0:  # dh0 = a_0 g_0 (0 where step 0 starts an episode)
        a0 = a_c
        if not A_CONST:
            a0 = tl.load(a_row).to(tl.float32)
        if HAS_RESET:
            a0 = tl.where(tl.load(reset_row) != 0, 0.0, a0)
        tl.store(DH0 + row * N + n, (a0 * carry).to(DH0.dtype.element_ty))
