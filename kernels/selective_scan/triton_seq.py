"""Selective-scan forward without autograd, one thread per channel walking time step by step.

The tiled forward (``triton_scan``) scans (channels, steps, states) tiles with
``tl.associative_scan``; at the VFIMamba inference shapes (batch 1, ~1k channels, L up to 65k)
it ran at about one state update per clock per SM (``benchmarks/README.md``). Here each thread
owns one channel and keeps its N states in registers, a (N, BLOCK_D) tile with N along the
thread's own registers, so a step is N exp2 + 3N FMAs with no shuffles, no shared memory and
no tree scan; the only dependency between steps is one FMA per state.

A program owns BLOCK_D channels of one batch row and one chunk of ``chunk_len`` steps. Chunks
give the parallelism that one long walk per channel lacks (1k channels = 1k threads), in the
usual three passes:
1. ``_seq_state_kernel``: each chunk's end state from a zero start and its sum of delta;
2. ``triton_kernels._chunk_carry_kernel``: the state carried into every chunk (cheap, in order);
3. ``_seq_fwd_kernel``: every chunk again from its carried-in state, writing the outputs.
With one chunk, pass 3 alone runs from h0.

Every per-time tensor is addressed through (batch, channel, time) strides, so channels-last
memory ((B, L, D), as SS2D builds it at inference) is read and written coalesced: the threads of
a warp touch 32 neighbouring channels of one step. B and C are (B, G, N, L) views of any
strides. The index maps of the tiled kernel hold: channel c reads u[:, c % Du]; groups whose bit
is set in ``rev_mask`` walk memory positions L-1 down to 0.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from worldssm.kernels.backend import triton_interpreted
from worldssm.kernels.selective_scan.triton_kernels import _chunk_carry_kernel, _softplus

LOG2E = tl.constexpr(1.4426950408889634)  # a plain float global is not readable in @jit

# (BLOCK_D, num_warps, chunk_len); chunk_len 0 = sized for about TARGET_PROGRAMS programs.
# From benchmarks/gpu/seq_sweep.py on an H100 (results/seq-sweep-h100.json): one warp of 32
# channels per program, and chunks that give ~2048 programs (one wave of ~16 warps per SM; more,
# shorter chunks were slower) won at both VFIMamba-S 1080p scales. Sweeps override SEQ_CONFIG.
DEFAULT_SEQ = (32, 1, 0)
TARGET_PROGRAMS = 2048
SEQ_CONFIG: tuple[int, int, int] | None = None


@triton.jit
def _row(ptr, mn, EVEN_N: tl.constexpr):
    """One step's B or C row (BLOCK_N,); unmasked when N == BLOCK_N, so it can load as vectors."""
    if EVEN_N:
        return tl.load(ptr).to(tl.float32)
    return tl.load(ptr, mask=mn, other=0.0).to(tl.float32)


@triton.jit
def _load_step(u_ptr, d_ptr, b_ptr, s, L, rev, md, mn, sUl, sDl, sBl, EVEN_N: tl.constexpr):
    """Raw inputs of scan step ``s``: u (BLOCK_D,), delta before bias (BLOCK_D,), B row."""
    pos = tl.where(rev != 0, L - 1 - s, s)
    u = tl.load(u_ptr + pos * sUl, mask=md, other=0.0).to(tl.float32)
    dt_raw = tl.load(d_ptr + pos * sDl, mask=md, other=0.0).to(tl.float32)
    return u, dt_raw, _row(b_ptr + pos * sBl, mn, EVEN_N)


@triton.jit
def _delta(dt_raw, bias, md, SOFTPLUS: tl.constexpr):
    """delta + bias, softplus-ed; 0 where masked."""
    dt = dt_raw + bias
    if SOFTPLUS:
        dt = _softplus(dt)
    return tl.where(md, dt, 0.0)


@triton.jit
def _program(A, DBIAS, D, N, sN, n_dblocks, d_per_group, rev_mask,
             HAS_DBIAS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):  # fmt: skip
    """This program's batch row, channels, states, masks, group, direction, A·log2(e) (N,
    BLOCK_D) and delta bias (BLOCK_D,). A's offsets go through the unspecialised stride ``sN``
    (= 1): with a literal 1 Triton lays the tile out with N across lanes, not in each thread."""
    pid = tl.program_id(0)
    bi = (pid // n_dblocks).to(tl.int64)
    d0 = (pid % n_dblocks) * BLOCK_D
    offs_d = d0 + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md = offs_d < D
    mn = offs_n < N
    mnd = mn[:, None] & md[None, :]
    g = d0 // d_per_group
    rev = (rev_mask >> g) & 1
    a2 = tl.load(A + offs_d[None, :] * N + offs_n[:, None] * sN, mask=mnd, other=0.0) * LOG2E
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_DBIAS:
        bias = tl.load(DBIAS + offs_d, mask=md, other=0.0).to(tl.float32)
    return bi, offs_d, offs_n, md, mn, mnd, g, rev, a2, bias


@triton.jit(do_not_specialize=["rev_mask", "sN"])  # 1 would become a constexpr
def _seq_state_kernel(
    U, DELTA, A, Bm, DBIAS, ENDS, DSUM,
    L, D, Du, N, sN, n_dblocks, d_per_group, chunk_len, n_chunks, rev_mask,
    sUb, sUd, sUl, sDb, sDd, sDl, sBb, sBg, sBn, sBl,
    HAS_DBIAS: tl.constexpr, SOFTPLUS: tl.constexpr, EVEN_N: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    """Pass 1, grid (B * n_dblocks, n_chunks): ENDS (B, D, n_chunks, N), DSUM (B, D, n_chunks)."""
    chunk = tl.program_id(1)
    bi, offs_d, offs_n, md, mn, mnd, g, rev, a2, bias = _program(
        A, DBIAS, D, N, sN, n_dblocks, d_per_group, rev_mask, HAS_DBIAS, BLOCK_D, BLOCK_N
    )
    u_ptr = U + bi * sUb + (offs_d % Du) * sUd
    d_ptr = DELTA + bi * sDb + offs_d * sDd
    b_ptr = Bm + bi * sBb + g * sBg + offs_n * sBn
    x = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    total = tl.zeros([BLOCK_D], dtype=tl.float32)
    s0 = chunk * chunk_len
    s1 = tl.minimum(s0 + chunk_len, L)
    # One step of prefetch: step s+1's loads go out before step s's arithmetic, which hides
    # their latency behind it (the loop is latency-bound, not bandwidth-bound).
    u_n, dt_n, bt_n = _load_step(u_ptr, d_ptr, b_ptr, s0, L, rev, md, mn, sUl, sDl, sBl, EVEN_N)
    for s in range(s0, s1):
        u, dt_raw, bt = u_n, dt_n, bt_n
        nxt = tl.minimum(s + 1, s1 - 1)  # the last step reloads itself
        u_n, dt_n, bt_n = _load_step(u_ptr, d_ptr, b_ptr, nxt, L, rev, md, mn, sUl, sDl, sBl,
                                     EVEN_N)  # fmt: skip
        dt = _delta(dt_raw, bias, md, SOFTPLUS)
        x = tl.exp2(dt[None, :] * a2) * x + bt[:, None] * (dt * u)[None, :]
        total += dt
    off = (bi * D + offs_d) * n_chunks + chunk
    tl.store(ENDS + off[None, :] * N + offs_n[:, None] * sN, x, mask=mnd)
    tl.store(DSUM + off, total, mask=md)


@triton.jit(do_not_specialize=["rev_mask", "sN"])  # 1 would become a constexpr
def _seq_fwd_kernel(
    U, DELTA, A, Bm, Cm, Dv, Z, DBIAS, H0, OUT, LAST,
    L, D, Du, N, sN, n_dblocks, d_per_group, chunk_len, n_chunks, rev_mask,
    sUb, sUd, sUl, sDb, sDd, sDl, sZb, sZd, sZl, sOb, sOd, sOl,
    sBb, sBg, sBn, sBl, sCb, sCg, sCn, sCl,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DBIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, STORE_LAST: tl.constexpr,
    EVEN_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    """Pass 3, grid (B * n_dblocks, n_chunks). H0: (B, D, n_chunks, N) start of each chunk."""
    chunk = tl.program_id(1)
    bi, offs_d, offs_n, md, mn, mnd, g, rev, a2, bias = _program(
        A, DBIAS, D, N, sN, n_dblocks, d_per_group, rev_mask, HAS_DBIAS, BLOCK_D, BLOCK_N
    )
    dskip = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        dskip = tl.load(Dv + offs_d, mask=md, other=0.0).to(tl.float32)
    x = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    if HAS_H0:
        h0_off = ((bi * D + offs_d[None, :]) * n_chunks + chunk) * N + offs_n[:, None] * sN
        x = tl.load(H0 + h0_off, mask=mnd, other=0.0).to(tl.float32)
    u_ptr = U + bi * sUb + (offs_d % Du) * sUd
    d_ptr = DELTA + bi * sDb + offs_d * sDd
    z_ptr = Z + bi * sZb + offs_d * sZd
    o_ptr = OUT + bi * sOb + offs_d * sOd
    b_ptr = Bm + bi * sBb + g * sBg + offs_n * sBn
    c_ptr = Cm + bi * sCb + g * sCg + offs_n * sCn
    s0 = chunk * chunk_len
    s1 = tl.minimum(s0 + chunk_len, L)
    # One step of prefetch, as in _seq_state_kernel (z is read late, at its use).
    u_n, dt_n, bt_n = _load_step(u_ptr, d_ptr, b_ptr, s0, L, rev, md, mn, sUl, sDl, sBl, EVEN_N)
    ct_n = _row(c_ptr + tl.where(rev != 0, L - 1 - s0, s0) * sCl, mn, EVEN_N)
    for s in range(s0, s1):
        u, dt_raw, bt, ct = u_n, dt_n, bt_n, ct_n
        pos = tl.where(rev != 0, L - 1 - s, s)
        nxt = tl.minimum(s + 1, s1 - 1)  # the last step reloads itself
        u_n, dt_n, bt_n = _load_step(u_ptr, d_ptr, b_ptr, nxt, L, rev, md, mn, sUl, sDl, sBl,
                                     EVEN_N)  # fmt: skip
        ct_n = _row(c_ptr + tl.where(rev != 0, L - 1 - nxt, nxt) * sCl, mn, EVEN_N)
        dt = _delta(dt_raw, bias, md, SOFTPLUS)
        x = tl.exp2(dt[None, :] * a2) * x + bt[:, None] * (dt * u)[None, :]
        y = tl.sum(x * ct[:, None], axis=0)
        if HAS_D:
            y += dskip * u
        if HAS_Z:
            zv = tl.load(z_ptr + pos * sZl, mask=md, other=0.0).to(tl.float32)
            y = y * zv * tl.sigmoid(zv)
        tl.store(o_ptr + pos * sOl, y.to(OUT.dtype.element_ty), mask=md)
    if STORE_LAST:
        state_off = (bi * D + offs_d[None, :]) * N + offs_n[:, None] * sN
        tl.store(LAST + state_off, x.to(LAST.dtype.element_ty), mask=mnd)


def seq_config(d_per_group: int, length: int, rows: int) -> tuple[int, int, int]:
    """(BLOCK_D, num_warps, chunk_len) for one launch; BLOCK_D divides d_per_group.

    ``rows``: batch x channels, the number of independent scans.
    """
    block_d, warps, chunk_len = SEQ_CONFIG or ((16, 1, 8) if triton_interpreted() else DEFAULT_SEQ)
    while d_per_group % block_d:  # one group per program
        block_d //= 2
    warps = max(1, min(warps, block_d // 32))
    if chunk_len == 0:
        blocks = triton.cdiv(rows, block_d)
        chunk_len = triton.next_power_of_2(triton.cdiv(length * blocks, TARGET_PROGRAMS))
        chunk_len = max(64, chunk_len)
    return block_d, warps, max(1, min(chunk_len, length))


def _bld(x: torch.Tensor) -> tuple[int, int, int]:
    """(batch, channel, time) strides of a (B, C, L) tensor."""
    return x.stride(0), x.stride(1), x.stride(2)


def selective_scan_seq(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask=0):
    """Forward only (no autograd). Returns out (B, D, L) and the last state (B, D, N) float32.

    Same arguments as ``triton_scan.selective_scan_triton`` (B, C as (B, N, L) or (B, G, N, L)),
    but u, delta, z may have any strides; out gets delta's memory layout (channels-last delta ->
    channels-last out).
    """
    bsz, d_inner, length = delta.shape
    du_ch, n = u.shape[1], A.shape[1]
    b4 = B[:, None] if B.dim() == 3 else B
    c4 = C[:, None] if C.dim() == 3 else C
    d_per_group = d_inner // b4.shape[1]
    block_d, warps, chunk_len = seq_config(d_per_group, length, bsz * d_inner)
    block_n = triton.next_power_of_2(n)
    n_dblocks = triton.cdiv(d_inner, block_d)
    n_chunks = triton.cdiv(length, chunk_len)
    A = A.contiguous().float()
    f32 = dict(device=u.device, dtype=torch.float32)
    out = torch.empty_like(delta, dtype=u.dtype)  # keeps delta's strides when it is dense
    last = torch.empty(bsz, d_inner, n, **f32)
    dummy = u
    flags = dict(HAS_DBIAS=delta_bias is not None, SOFTPLUS=delta_softplus, EVEN_N=n == block_n)
    sizes = (length, d_inner, du_ch, n, 1, n_dblocks, d_per_group, chunk_len, n_chunks, rev_mask)
    bias = dummy if delta_bias is None else delta_bias
    starts = None if h0 is None else h0.contiguous()
    if n_chunks > 1:
        starts = torch.empty(bsz, d_inner, n_chunks, n, **f32)
        sums = torch.empty(bsz, d_inner, n_chunks, **f32)
        _seq_state_kernel[(bsz * n_dblocks, n_chunks)](
            u, delta, A, b4, bias, starts, sums, *sizes, *_bld(u), *_bld(delta), *b4.stride(),
            **flags, BLOCK_D=block_d, BLOCK_N=block_n, num_warps=warps,
        )  # fmt: skip
        _chunk_carry_kernel[(bsz * triton.cdiv(d_inner, 32),)](
            A, dummy if h0 is None else h0.contiguous(), starts, sums, last, d_inner, n,
            triton.cdiv(d_inner, 32), n_chunks,
            HAS_H0=h0 is not None, BLOCK_D=32, BLOCK_N=block_n, num_warps=4,
        )  # fmt: skip
    _seq_fwd_kernel[(bsz * n_dblocks, n_chunks)](
        u, delta, A, b4, c4, dummy if D is None else D, dummy if z is None else z, bias,
        dummy if starts is None else starts, out, last, *sizes,
        *_bld(u), *_bld(delta), *_bld(delta if z is None else z), *_bld(out),
        *b4.stride(), *c4.stride(), **flags,
        HAS_D=D is not None, HAS_Z=z is not None, HAS_H0=starts is not None,
        STORE_LAST=n_chunks == 1, BLOCK_D=block_d, BLOCK_N=block_n, num_warps=warps,
    )  # fmt: skip
    return out, last
