"""The carry chain of the chunked Triton linear scan (:mod:`.triton_scan`, ``chunked``).

Each program scans one chunk of BLOCK_T steps (CHUNK_TILES tiles of them, see the kernels) from a
zero carry: per column, the chunk is the affine map ``c -> P c + S`` (P the product of the
chunk's coefficients, S its scan from zero).
The carry into chunk k is what chunk k-1 hands on. Programs take chunks through an atomic ticket
counter in chunk-major order, so whoever waits on chunk j < k knows a running (or finished)
program holds it, and the chain cannot deadlock. Every published float travels with its ready
flag in one 64-bit word (flag << 32 | float32 bits), so no memory fence is needed between a
value and its flag; the buffer starts zeroed (flag 0: not published).

Two protocols, picked by ``LOOKBACK`` (``Choice.lookback``):

- ``0``, strict chain: chunk k waits for chunk k-1's end state (one word a column and value),
  applies it and publishes its own. The carry moves one chunk per round trip through L2.
- ``W >= 1``, decoupled look-back (Merrill and Garland, "Single-pass parallel prefix scan with
  decoupled look-back", 2016): chunk k first publishes its aggregate (P, S) with flag 1, which
  needs no other chunk, then reads W predecessors at once. Per column, an inclusive end state
  (flag 2) with every later chunk's aggregate behind it gives the carry; W aggregates without
  one are folded and the window moves W chunks back. Chunk k then publishes its end state with
  flag 2 over its S words. The carry no longer waits for one link at a time: the frontier can
  jump W chunks a round trip. Twice the state words (P and S), read W rows at a time. On an
  H100 (GPU batches 63-65) this was 1.8-12x faster than the strict chain with few columns
  (B x N up to 6,144), and slower at 12,288, where both ran at a cost of about 6-9 ns a
  one-warp chunk program whatever the window.

The scan's initial state (h0, or the final state's gradient in the backward) stands before
chunk 0 as an inclusive state.
"""

from __future__ import annotations

import triton
import triton.language as tl

from worldssm.kernels.linear_scan.triton_io import _edge_row


@triton.jit
def _combine_real(a1, b1, a2, b2):
    """Compose two steps' maps c -> a c + b (1 first, then 2): the scan operator."""
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _combine_complex(ar1, ai1, br1, bi1, ar2, ai2, br2, bi2):
    """:func:`_combine_real` for complex a and b as (re, im) pairs."""
    return (
        ar2 * ar1 - ai2 * ai1,
        ar2 * ai1 + ai2 * ar1,
        ar2 * br1 - ai2 * bi1 + br2,
        ar2 * bi1 + ai2 * br1 + bi2,
    )


@triton.jit
def _fold(ap_r, ap_i, as_r, as_i, p_r, p_i, s_r, s_i, COMPLEX: tl.constexpr):
    """The map c -> ap c + as followed by c -> p c + s (complex when COMPLEX; (BLOCK_N,) each):
    a chunk's aggregate grown by one more tile (``CHUNK_TILES``)."""
    if COMPLEX:
        return _combine_complex(ap_r, ap_i, as_r, as_i, p_r, p_i, s_r, s_i)
    pr, sr = _combine_real(ap_r, as_r, p_r, s_r)
    return pr, ap_i, sr, as_i


@triton.jit
def _ticket(COUNTER, T, BLOCK_T: tl.constexpr):
    """(chunk index, column index) of this program's chunk, handed out in chunk-major order."""
    n_tiles = tl.cdiv(T, BLOCK_T)
    n_cols = tl.num_programs(0) // n_tiles
    vid = tl.atomic_add(COUNTER, 1).to(tl.int32)
    return vid // n_cols, vid % n_cols


@triton.jit
def _take_chunk(COUNTER, T, BLOCK_T: tl.constexpr, CHUNK_TILES: tl.constexpr):
    """This program's chunk from the ticket counter: (chunk index, column index, its first tile,
    the tile after its last), chunks of CHUNK_TILES tiles of BLOCK_T steps."""
    chunk, col = _ticket(COUNTER, T, BLOCK_T * CHUNK_TILES)
    k_lo = chunk * CHUNK_TILES
    if CHUNK_TILES == 1:
        k_hi = k_lo + 1
    else:
        k_hi = tl.minimum(k_lo + CHUNK_TILES, tl.cdiv(T, BLOCK_T))
    return chunk, col, k_lo, k_hi


@triton.jit
def _flagged(x, FLAG: tl.constexpr):
    """float32 -> int64 word: FLAG << 32 | the float's bits."""
    return (x.to(tl.int32, bitcast=True).to(tl.int64) & 0xFFFFFFFF) | (FLAG << 32)


@triton.jit
def _value(w):
    """int64 word -> the float32 in its low 32 bits."""
    return (w & 0xFFFFFFFF).to(tl.int32).to(tl.float32, bitcast=True)


@triton.jit
def _publish(STATE, slot, offs_n, mask_n, N, cr, ci, COMPLEX: tl.constexpr):
    """Write a chunk's end state to STATE[slot] (int64 words: flag << 32 | float32 bits)."""
    W: tl.constexpr = 2 if COMPLEX else 1
    word_r = _flagged(cr, 1)
    word_i = _flagged(ci, 1)
    _store_words(STATE + slot * N * W, offs_n, word_r, word_i, mask_n, COMPLEX)


@triton.jit
def _store_words(ptr, off, wr, wi, mask, COMPLEX: tl.constexpr):
    # Atomic (relaxed) writes: strong stores that the other SM's volatile polls must see.
    # Complex words go as two stride-2 writes, not one tl.join'ed (N, 2) tile: joined/split
    # tiles gave wrong values on the GPU (exact in the interpreter), as triton_io._load notes.
    if COMPLEX:
        tl.atomic_xchg(ptr + off * 2, wr, mask=mask, sem="relaxed")
        tl.atomic_xchg(ptr + off * 2 + 1, wi, mask=mask, sem="relaxed")
    else:
        tl.atomic_xchg(ptr + off, wr, mask=mask, sem="relaxed")


@triton.jit
def _wait(STATE, slot, offs_n, mask_n, N, COMPLEX: tl.constexpr, MAX_POLLS: tl.constexpr):
    """Poll STATE[slot] until every word carries its flag; returns the state (re, im)."""
    W: tl.constexpr = 2 if COMPLEX else 1
    ptr = STATE + slot * N * W
    # volatile: read through L1 on every poll (the words are written by another SM).
    # Complex: real and imaginary words are two stride-2 loads (see _store_words).
    words_r = tl.load(ptr + offs_n * W, mask=mask_n, other=1 << 32, volatile=True)
    words_i = words_r
    if COMPLEX:
        words_i = tl.load(ptr + offs_n * 2 + 1, mask=mask_n, other=1 << 32, volatile=True)
    polls = 0
    while (tl.min(tl.minimum(words_r, words_i) >> 32) == 0) & (polls < MAX_POLLS):
        words_r = tl.load(ptr + offs_n * W, mask=mask_n, other=1 << 32, volatile=True)
        if COMPLEX:
            words_i = tl.load(ptr + offs_n * 2 + 1, mask=mask_n, other=1 << 32, volatile=True)
        else:
            words_i = words_r
        polls += 1
    re = _value(words_r)
    if COMPLEX:
        im = _value(words_i)
    else:
        im = tl.zeros_like(re)
    return re, im


@triton.jit
def _row(tile, rows, r: tl.constexpr):
    """Row r of a (WINDOW, BLOCK_N) tile."""
    return tl.sum(tl.where((rows == r)[:, None], tile, 0), axis=0)


@triton.jit
def _look_back(STATE, row, k, n_tiles, offs_n, mask_n, N, c0r, c0i, COMPLEX: tl.constexpr,
               WINDOW: tl.constexpr, MAX_POLLS: tl.constexpr):  # fmt: skip
    """The carry into chunk k >= 1 by decoupled look-back (see the module docstring).

    STATE slots (row * n_tiles + j) hold P words then S words (N x re/im each). c0: the scan's
    initial state, the inclusive state before chunk 0. Returns (re, im) float32 (BLOCK_N,).
    """
    W: tl.constexpr = 2 if COMPLEX else 1
    rows = tl.arange(0, WINDOW)
    # The carry is acc_p * (carry before the window) + acc_s, complex; columns past N are done.
    acc_pr = tl.where(mask_n, 1.0, 0.0)
    acc_pi = tl.zeros_like(acc_pr)
    acc_sr = tl.zeros_like(acc_pr)
    acc_si = tl.zeros_like(acc_pr)
    done = ~mask_n
    hi = k  # the window is chunks hi - WINDOW ... hi - 1
    polls = 0
    while (tl.min(done.to(tl.int32)) == 0) & (polls < MAX_POLLS):
        j = hi - WINDOW + rows
        m = (j >= 0)[:, None] & mask_n[None, :]
        off = ((row * n_tiles + j) * (2 * N * W))[:, None] + (offs_n * W)[None, :]
        p_r = tl.load(STATE + off, mask=m, other=0, volatile=True)
        s_r = tl.load(STATE + off + N * W, mask=m, other=0, volatile=True)
        fp = p_r >> 32
        fs = s_r >> 32
        if COMPLEX:
            p_i = tl.load(STATE + off + 1, mask=m, other=0, volatile=True)
            s_i = tl.load(STATE + off + N * W + 1, mask=m, other=0, volatile=True)
            fp = tl.minimum(fp, p_i >> 32)
            fs = tl.minimum(fs, s_i >> 32)
        # Oldest row first: the window's map c -> wp c + ws, and whether a row that is not
        # ready yet follows the newest inclusive one (then the window is read again).
        wp_r = tl.where(mask_n, 1.0, 0.0)
        wp_i = tl.zeros_like(wp_r)
        ws_r = tl.zeros_like(wp_r)
        ws_i = tl.zeros_like(wp_r)
        has_inc = done & ~done
        waiting = has_inc
        for r in tl.static_range(WINDOW):
            jr = hi - WINDOW + r
            inc = (_row(fs, rows, r) == 2) | (jr == -1)
            agg = (_row(fs, rows, r) >= 1) & (_row(fp, rows, r) >= 1)
            ready = inc | agg | (jr < -1)
            sr = tl.where(jr == -1, c0r, tl.where(inc | agg, _value(_row(s_r, rows, r)), 0.0))
            pr = tl.where(inc, 0.0, tl.where(agg, _value(_row(p_r, rows, r)), 1.0))
            if COMPLEX:
                si = tl.where(jr == -1, c0i, tl.where(inc | agg, _value(_row(s_i, rows, r)), 0.0))
                pi = tl.where(agg & ~inc, _value(_row(p_i, rows, r)), 0.0)
                ws_r, ws_i = pr * ws_r - pi * ws_i + sr, pr * ws_i + pi * ws_r + si
                wp_r, wp_i = pr * wp_r - pi * wp_i, pr * wp_i + pi * wp_r
            else:
                ws_r = pr * ws_r + sr
                wp_r = pr * wp_r
            has_inc = has_inc | inc
            waiting = (waiting | ~ready) & ~inc
        if tl.min((done | ~waiting).to(tl.int32)) == 1:
            keep = done
            n_sr = acc_pr * ws_r - acc_pi * ws_i + acc_sr
            n_si = acc_pr * ws_i + acc_pi * ws_r + acc_si
            n_pr = acc_pr * wp_r - acc_pi * wp_i
            n_pi = acc_pr * wp_i + acc_pi * wp_r
            acc_sr = tl.where(keep, acc_sr, n_sr)
            acc_si = tl.where(keep, acc_si, n_si)
            acc_pr = tl.where(keep, acc_pr, n_pr)
            acc_pi = tl.where(keep, acc_pi, n_pi)
            done = done | has_inc
            hi -= WINDOW
        polls += 1
    return acc_sr, acc_si


@triton.jit
def _carry_in(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, pr, pi, sr, si,
              COMPLEX: tl.constexpr, LOOKBACK: tl.constexpr, MAX_POLLS: tl.constexpr,
              BLOCK_T: tl.constexpr = 0, FIRST: tl.constexpr = False):  # fmt: skip
    """The carry into chunk k of n_tiles: (cr, ci), the scan's initial state, for chunk 0; else
    chunk k-1's end state.

    (pr, pi, sr, si): this chunk's aggregate, the map c -> P c + S of its steps ((BLOCK_N,)
    each), published first under look-back (unused by the strict chain). BLOCK_T > 0: they are
    the chunk's one-tile scan from a zero carry instead, (BLOCK_T, BLOCK_N) tiles whose last row
    (first if FIRST: a reverse=True scan) is the aggregate.
    """
    if LOOKBACK == 0:
        if k > 0:
            cr, ci = _wait(STATE, row * n_tiles + k - 1, offs_n, mask_n, N, COMPLEX, MAX_POLLS)
    else:
        if k > 0:
            W: tl.constexpr = 2 if COMPLEX else 1
            if k < n_tiles - 1:  # the last chunk has no successor
                ptr = STATE + (row * n_tiles + k) * (2 * N * W)
                if BLOCK_T > 0:
                    p_r = _flagged(_edge_row(pr, BLOCK_T, FIRST), 1)
                    s_r = _flagged(_edge_row(sr, BLOCK_T, FIRST), 1)
                    p_i = p_r
                    s_i = s_r
                    if COMPLEX:
                        p_i = _flagged(_edge_row(pi, BLOCK_T, FIRST), 1)
                        s_i = _flagged(_edge_row(si, BLOCK_T, FIRST), 1)
                else:
                    p_r = _flagged(pr, 1)
                    p_i = _flagged(pi, 1)
                    s_r = _flagged(sr, 1)
                    s_i = _flagged(si, 1)
                _store_words(ptr, offs_n, p_r, p_i, mask_n, COMPLEX)
                _store_words(ptr + N * W, offs_n, s_r, s_i, mask_n, COMPLEX)
            cr, ci = _look_back(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX,
                                LOOKBACK, MAX_POLLS)  # fmt: skip
    return cr, ci


@triton.jit
def _carry_out(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX: tl.constexpr,
               LOOKBACK: tl.constexpr, INC_EVERY: tl.constexpr):  # fmt: skip
    """Publish chunk k's end state (cr, ci) for its successors (not for the last chunk of
    n_tiles).

    INC_EVERY (look-back, tests): only chunks k with k % INC_EVERY == 0 publish it, so that the
    others' successors must fold aggregates (in the interpreter every predecessor has finished).
    """
    if k < n_tiles - 1:
        if LOOKBACK == 0:
            _publish(STATE, row * n_tiles + k, offs_n, mask_n, N, cr, ci, COMPLEX)
        elif k % INC_EVERY == 0:
            W: tl.constexpr = 2 if COMPLEX else 1
            ptr = STATE + (row * n_tiles + k) * (2 * N * W) + N * W
            _store_words(ptr, offs_n, _flagged(cr, 2), _flagged(ci, 2), mask_n, COMPLEX)


@triton.jit
def _tile_done(STATE, row, k, k_hi, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX: tl.constexpr,
               LOOKBACK: tl.constexpr, INC_EVERY: tl.constexpr,
               CHUNK_TILES: tl.constexpr):  # fmt: skip
    """After tile k of a chunk (tiles up to k_hi - 1), with the end state (cr, ci): publish it
    if the tile ends its chunk (chunks of CHUNK_TILES tiles)."""
    if CHUNK_TILES == 1:
        _carry_out(STATE, row, k, n_tiles, offs_n, mask_n, N, cr, ci, COMPLEX, LOOKBACK,
                   INC_EVERY)  # fmt: skip
    else:
        if k == k_hi - 1:
            _carry_out(STATE, row, k // CHUNK_TILES, tl.cdiv(n_tiles, CHUNK_TILES), offs_n,
                       mask_n, N, cr, ci, COMPLEX, LOOKBACK, INC_EVERY)  # fmt: skip
