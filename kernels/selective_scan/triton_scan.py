"""Fused Triton selective scan (Mamba S6): the (B, D, L, N) state never touches HBM.

Each program owns one batch row and ``BLOCK_D`` channels with all N states in registers and walks
time in tiles of ``BLOCK_L`` steps: it builds exp(delta*A) and delta*B*u for the tile, scans them
along time with ``tl.associative_scan``, contracts with C and writes (BLOCK_D, BLOCK_L) outputs.
When gradients are needed the forward also stores the state at the start of every tile (B, D,
L/BLOCK_L, N): the backward walks tiles from the end, recomputes each tile's states from its
checkpoint and runs the adjoint scan (flip, scan, flip: ``reverse=True`` compiled to many more
shuffles; see ``triton_kernels._tile_positions``). B and C are per-batch and time-varying, (B, G,
N, L); dB and dC are reduced over channels with atomic adds into float32 buffers.

Chunked forward (long L, few channel blocks, e.g. batch 1 at inference): one program per
(channel block, L-chunk) instead of per channel block, in three launches:
1. ``_chunk_state_kernel``: each chunk's end state from a zero start, and the chunk's sum of
   delta (its total decay is exp(A * sum delta), per (d, n)). No associative scan is needed:
   the end state is sum_t exp(A * (S_end - S_t)) delta_t B_t u_t with S the cumulative delta.
2. ``_chunk_carry_kernel``: walks the chunks in order (cheap: one (BLOCK_D, N) FMA per chunk)
   and turns each chunk's end state into the state carried into it; writes the final state.
3. ``_selective_fwd_kernel`` again, one program per chunk, starting from its carried-in state.
The backward is unchanged: pass 3 writes the same per-tile checkpoints.

Index maps (used by SS2D's four directions, so that no flipped copies are built):
- u may have fewer channels than delta: channel c reads u[:, c % Du] (the directions share u).
- groups whose bit is set in ``rev_mask`` scan from t = L-1 down to 0: scan step s reads and
  writes memory position L-1-s of every per-time tensor (u, delta, z, B, C, out). Each run of
  neighbouring groups that scan the same way is its own launch (``_direction_runs``), and a
  reversed launch reads and writes its tiles at increasing positions, flipping them in
  registers, so that every tile load stays vectorised (with a per-step select of the position
  they were not: fwd+bwd 2.1x slower, GPU batch 82).

This module is the host side (tiles, launches, autograd); the kernels are in
:mod:`.triton_kernels`.
"""

from __future__ import annotations

import re

import torch
import triton

from worldssm.kernels.backend import triton_interpreted
from worldssm.kernels.selective_scan.triton_kernels import (
    _chunk_carry_kernel,
    _chunk_state_kernel,
    _selective_bwd_kernel,
    _selective_fwd_kernel,
)

# (BLOCK_D, BLOCK_L, num_warps) for forward and backward; benchmarks may override.
# The backward from benchmarks/tune_selective.py on an H100 (results/tune-selective-h100.json):
# it holds many (BLOCK_D, BLOCK_L, N) temporaries, so few channels and one warp per program win
# (5x faster than (8, 16, 4)); the backward must reuse the forward's BLOCK_L. The forward from
# the same sweep on an H200 with the forward under autograd (GPU batch 86,
# results/tune-selective-train-h200-run60.json; the H100 sweep had timed the no-autograd path):
# at (8, 1536, 2048, 16) (2, 32, 1) runs 0.807 / 1.162 ms (fp32 / bf16) against 1.450 / 1.735
# for the old (4, 32, 4), and fwd+bwd 5.263 / 6.595 ms.
DEFAULT_FWD = (2, 32, 1)
DEFAULT_BWD = (2, 32, 1)
FWD_CONFIG: tuple[int, int, int] | None = None
# Tile loads of the training kernels: FWD_EARLY / BWD_EARLY issue every load of a tile before
# its scan; FWD_STAGES / BWD_STAGES > 1 pipeline the next tiles' loads (tl.range num_stages).
# H200, (8, 1536, 2048, 16), bf16 / fp32 (results/selective-loads-h200-run62-65.json): early
# loads in both kernels cost fwd+bwd 2-5% (batch 88, Mamba bf16 6.731 against 6.587 ms); in the
# forward kernel alone (z loaded before the scan, not after its barriers) they save 3-4% of the
# forward with z (batch 89: 1.126 / 0.774 against 1.155 / 0.807 ms; fwd+bwd 6.561 / 5.163
# against 6.585 / 5.200). Every STAGES > 1 was slower (fwd+bwd up to 8.2 ms).
FWD_EARLY = True
BWD_EARLY = False
FWD_STAGES = 1
BWD_STAGES = 1
# Forward launches flip some tiles twice (values unchanged: part of the reversed launches' code),
# a bit mask of sites (``triton_kernels._flip_if``): 2 the (D, L) input tiles (u, delta, dout),
# 4 the (L, N) tiles, 8 the (D, L) output tiles; 14 all. Keyed by u's element size. Found by
# asking why bf16 reversed launches outran forward ones (H200, Triton 3.6, (8, 1536, 2048, 16),
# results/selective-loads-h200-run62-65.json): with 16-bit inputs, mask 2 makes fwd+bwd 1.23x /
# 1.26x faster (bf16 / fp16 Mamba: 5.350 / 5.355 against 6.573 / 6.774 ms; SS2D 1.17x / 1.16x),
# the forward alone 1.47x (0.763 against 1.125 ms bf16), for 32 more shuffles a tile in the
# forward's PTX. Masks 4 and 8 slow bf16 down; in fp32 every mask is slower
# (mask 2: 5.285 against 5.172 ms). Why: Triton 3.6 compiles the 16-bit kernels badly without
# the flips (sm_90a SASS, results/selective-codegen-h200-run66.json: forward 2,480 instructions
# against 1,360 with them, backward 188 bytes of spills against 72; what goes wrong there was
# not traced). Triton 3.8 compiles the 16-bit kernels without the flips as
# it does the fp32 ones (forward 1,328 instructions), so from 3.8 they stay off (not timed).
_OLD_TRITON = tuple(int(v) for v in re.findall(r"\d+", triton.__version__)[:2]) < (3, 8)
FLIP_FORWARD_TILES = {2: 2 if _OLD_TRITON else 0, 4: 0}


def _flips(rev: bool, u: torch.Tensor) -> int:
    """``FLIPS`` of a launch's kernels: 1 in reversed launches; see ``FLIP_FORWARD_TILES``."""
    return 1 if rev else FLIP_FORWARD_TILES.get(u.element_size(), 0) & 14


# Forward without autograd (inference: no checkpoints, so its BLOCK_L is free), per dtype of
# u. From `tune_selective.py --infer` on an H100 (results/tune-selective-infer-h100.json) at the
# VFIMamba-S 1080p shapes (batch 1, 1,024 channels, L = 65,280 and 16,320): fp32 3.87 / 0.98 ms
# and bf16 5.14 / 1.28 ms against 5.57 / 1.43 and 7.65 / 1.90 with (4, 32, 4). Few channels
# per program: at batch 1 more programs keep more SMs busy. (A variant scanning one state at a
# time over 2-D tiles was 1.6-2.2x slower in the same sweep and was removed.)
# They apply only where the default tiles would leave the GPU short of programs (fewer than
# INFER_MAX_PROGRAMS channel blocks); big batches keep DEFAULT_FWD, the training sweep's winner
# at (8, 1536, 2048, 16).
DEFAULT_INFER = {torch.float32: (2, 64, 2), torch.bfloat16: (1, 32, 1), torch.float16: (1, 32, 1)}
INFER_MAX_PROGRAMS = 2048
INFER_CONFIG: tuple[int, int, int] | None = None
# The forward without autograd: "seq" (``triton_seq``: one thread per channel walking time,
# any strides) or "tile" (this module's tiled forward with INFER_CONFIG / DEFAULT_INFER).
INFER_KERNEL = "seq"
# Copies of the dB/dC accumulators (summed afterwards): atomics from many channel blocks to one
# address serialise in L2; 16 copies of (B, G, N, L) float32 are small next to u.
ATOMIC_SLOTS = 16
BWD_CONFIG: tuple[int, int, int] | None = None

# Chunked forward. CHUNK_TILES: None = choose per call, 0 = never chunk, k = k tiles per chunk
# (tests force small chunks). Per call, chunking is used when B * D / BLOCK_D is below
# CHUNK_MAX_PROGRAMS (the sequential walk would leave most of the GPU idle) and L spans at least
# two chunks of CHUNK_MIN_TILES tiles; chunks are then sized for about CHUNK_TARGET_PROGRAMS
# programs (several waves on a 132-SM H100: pass 1 + pass 3 cost about twice the sequential
# work, spread over ~30x more programs).
CHUNK_TILES: int | None = None
# Choosing chunks per call is opt-in: on an H200 (2026-11-27, results/vfi-speed-h200.json) the
# chunked forward was slower than the sequential one at the VFIMamba-S 1080p shapes in fp32
# (1/8 scale: 5.2 vs 4.7 ms) and at 1/16 in both dtypes; only 1/8-scale bf16 gained (6.0 vs 6.8).
AUTO_CHUNK = False
CHUNK_MAX_PROGRAMS = 2048
CHUNK_TARGET_PROGRAMS = 8192
CHUNK_MIN_TILES = 16


def _config(d_per_group: int, override, default):
    block_d, block_l, warps = override or ((4, 8, 1) if triton_interpreted() else default)
    while d_per_group % block_d:  # one group per program
        block_d //= 2
    return block_d, block_l, warps


def infer_tile(bsz: int, d_inner: int, dtype: torch.dtype) -> tuple[int, int, int]:
    """Default (BLOCK_D, BLOCK_L, warps) of the forward without autograd for this launch."""
    if bsz * d_inner // DEFAULT_FWD[0] >= INFER_MAX_PROGRAMS:
        return DEFAULT_FWD
    return DEFAULT_INFER.get(dtype, DEFAULT_FWD)


def chunk_tiles(programs: int, n_tiles: int) -> int:
    """Tiles per chunk of the chunked forward (n_tiles: no chunking) for this launch size."""
    if CHUNK_TILES is not None:
        return CHUNK_TILES if CHUNK_TILES > 0 else n_tiles
    if not AUTO_CHUNK:
        return n_tiles
    if programs >= CHUNK_MAX_PROGRAMS or n_tiles < 2 * CHUNK_MIN_TILES:
        return n_tiles
    n_chunks = triton.cdiv(CHUNK_TARGET_PROGRAMS, programs)
    return max(CHUNK_MIN_TILES, triton.cdiv(n_tiles, n_chunks))


def _as_groups(x: torch.Tensor) -> torch.Tensor:
    """(B, N, L) -> (B, 1, N, L); (B, G, N, L) unchanged."""
    return x[:, None] if x.dim() == 3 else x


def _direction_runs(rev_mask: int, groups: int, d_per_group: int, block_d: int):
    """One launch per run of neighbouring groups that scan the same way: (first channel,
    channel blocks, reversed). Forward groups then keep plain tile positions (the kernels'
    ``REV`` off, vectorised loads) beside reversed ones, as SS2D's four directions are."""
    runs: list[list] = []
    for g in range(groups):
        rev = bool(rev_mask >> g & 1)
        if runs and runs[-1][2] == rev:
            runs[-1][1] += d_per_group // block_d
        else:
            runs.append([g * d_per_group, d_per_group // block_d, rev])
    return [tuple(r) for r in runs]


def _strides(x: torch.Tensor) -> tuple[int, int, int, int]:
    return tuple(x.stride())


def _forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask, store_ckpt):
    """Launch the forward. u (B, Du, L), delta (B, D, L), A (D, N) float32 contiguous.

    Returns out (B, D, L) in u's dtype, the last state (B, D, N) float32, the per-tile
    checkpoints (B, D, n_tiles, N) float32 (None unless ``store_ckpt``) and BLOCK_L.
    """
    bsz, d_inner, length = delta.shape
    du_ch, n = u.shape[1], A.shape[1]
    b4, c4 = _as_groups(B), _as_groups(C)
    d_per_group = d_inner // b4.shape[1]
    if store_ckpt:
        block_d, block_l, warps = _config(d_per_group, FWD_CONFIG, DEFAULT_FWD)
    else:
        default = infer_tile(bsz, d_inner, u.dtype)
        block_d, block_l, warps = _config(d_per_group, INFER_CONFIG, default)
    block_n = triton.next_power_of_2(n)
    n_dblocks = triton.cdiv(d_inner, block_d)
    n_tiles = triton.cdiv(length, block_l)
    tiles = chunk_tiles(bsz * n_dblocks, n_tiles)
    n_chunks = triton.cdiv(n_tiles, tiles)
    f32 = dict(device=u.device, dtype=torch.float32)
    out = torch.empty(bsz, d_inner, length, device=u.device, dtype=u.dtype)
    ckpt = torch.empty(bsz, d_inner, n_tiles, n, **f32) if store_ckpt else None
    last = torch.empty(bsz, d_inner, n, **f32)
    dummy = u
    h0 = None if h0 is None else h0.contiguous()
    flags = dict(HAS_DBIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
                 SHARED_U=du_ch != d_inner)  # fmt: skip
    runs = _direction_runs(rev_mask, b4.shape[1], d_per_group, block_d)
    if n_chunks > 1:
        # Pass 1 and 2: the state carried into every chunk, (B, D, n_chunks, N).
        starts = torch.empty(bsz, d_inner, n_chunks, n, **f32)
        sums = torch.empty(bsz, d_inner, n_chunks, **f32)
        for d_first, blocks, rev in runs:
            _chunk_state_kernel[(bsz * blocks, n_chunks)](
                u, delta, A, b4, dummy if delta_bias is None else delta_bias, starts, sums,
                length, d_inner, du_ch, n, blocks, d_first, d_per_group, n_tiles, tiles,
                n_chunks, *_strides(b4), **flags, REV=rev,
                BLOCK_D=block_d, BLOCK_L=block_l, BLOCK_N=block_n, num_warps=warps,
            )  # fmt: skip
        _chunk_carry_kernel[(bsz * n_dblocks,)](
            A, dummy if h0 is None else h0, starts, sums, last, d_inner, n, n_dblocks, n_chunks,
            HAS_H0=h0 is not None, BLOCK_D=block_d, BLOCK_N=block_n, num_warps=1,
        )  # fmt: skip
        h0 = starts
    for d_first, blocks, rev in runs:
        _selective_fwd_kernel[(bsz * blocks, n_chunks)](
            u, delta, A, b4, c4, dummy if D is None else D, dummy if z is None else z,
            dummy if delta_bias is None else delta_bias, dummy if h0 is None else h0,
            out, dummy if ckpt is None else ckpt, last,
            length, d_inner, du_ch, n, blocks, d_first, d_per_group, n_tiles, tiles, n_chunks,
            *_strides(b4), *_strides(c4), **flags,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_H0=h0 is not None,
            STORE_CKPT=store_ckpt, STORE_LAST=n_chunks == 1, REV=rev, FLIPS=_flips(rev, u),
            BLOCK_D=block_d, BLOCK_L=block_l, BLOCK_N=block_n, EARLY=FWD_EARLY,
            STAGES=FWD_STAGES, num_warps=warps,
        )  # fmt: skip
    return out, last, ckpt, block_l


class TritonSelectiveScan(torch.autograd.Function):
    """Autograd Function around the fused selective-scan kernels."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask):
        u, delta = u.contiguous(), delta.contiguous()
        a_dtype = A.dtype
        A = A.contiguous().float()
        z = None if z is None else z.contiguous()
        out, last, ckpt, block_l = _forward(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask, True
        )
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, ckpt)
        ctx.softplus = delta_softplus
        ctx.has_h0 = h0 is not None
        ctx.h0_dtype = None if h0 is None else h0.dtype
        ctx.a_dtype = a_dtype
        ctx.block_l = block_l
        ctx.rev_mask = rev_mask
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast):
        u, delta, A, B, C, D, z, delta_bias, ckpt = ctx.saved_tensors
        bsz, d_inner, length = delta.shape
        du_ch, n = u.shape[1], A.shape[1]
        b4, c4 = _as_groups(B), _as_groups(C)
        groups = b4.shape[1]
        d_per_group = d_inner // groups
        block_d, _, warps = _config(d_per_group, BWD_CONFIG, DEFAULT_BWD)
        block_l, n_tiles = ctx.block_l, ckpt.shape[2]  # tiles must match the checkpoints
        n_dblocks = triton.cdiv(d_inner, block_d)
        dout = torch.zeros_like(delta, dtype=u.dtype) if dout is None else dout.contiguous()
        f32 = dict(device=u.device, dtype=torch.float32)
        # du per channel of delta; channels that share a u channel are summed below.
        du = torch.empty(bsz, d_inner, length, device=u.device, dtype=u.dtype)
        ddelta = torch.empty_like(delta)
        dz = None if z is None else torch.empty_like(z)
        da_p = torch.empty(bsz, d_inner, n, **f32)
        n_slots = min(n_dblocks // groups, ATOMIC_SLOTS) or 1
        db_buf = torch.zeros(bsz, n_slots, groups, n, length, **f32)
        dc_buf = torch.zeros(bsz, n_slots, groups, n, length, **f32)
        dd_p = torch.empty(bsz, d_inner, **f32)
        dbias_p = torch.empty(bsz, d_inner, **f32)
        dh0 = torch.empty(bsz, d_inner, n, **f32)
        dummy = u
        dlast = None if dlast is None else dlast.contiguous()
        for d_first, blocks, rev in _direction_runs(ctx.rev_mask, groups, d_per_group, block_d):
            _selective_bwd_kernel[(bsz * blocks,)](
                u, delta, A, b4, c4, dummy if D is None else D, dummy if z is None else z,
                dummy if delta_bias is None else delta_bias, ckpt, dout,
                dummy if dlast is None else dlast,
                du, ddelta, dummy if dz is None else dz, da_p, db_buf, dc_buf, dd_p, dbias_p, dh0,
                length, d_inner, du_ch, n, groups, blocks, d_first, d_per_group, n_tiles, n_slots,
                *_strides(b4), *_strides(c4),
                HAS_D=D is not None, HAS_Z=z is not None, HAS_DBIAS=delta_bias is not None,
                SOFTPLUS=ctx.softplus, HAS_DLAST=dlast is not None,
                REV=rev, FLIPS=_flips(rev, u), SHARED_U=du_ch != d_inner,
                BLOCK_D=block_d, BLOCK_L=block_l, BLOCK_N=triton.next_power_of_2(n),
                EARLY=BWD_EARLY, STAGES=BWD_STAGES, num_warps=warps,
            )  # fmt: skip
        if du_ch != d_inner:
            du = du.view(bsz, d_inner // du_ch, du_ch, length).sum(1, dtype=torch.float32)
            du = du.to(u.dtype)
        db = db_buf.sum(1).reshape(B.shape).to(B.dtype)
        dc = dc_buf.sum(1).reshape(C.shape).to(C.dtype)
        dd = None if D is None else dd_p.sum(0).to(D.dtype)
        dbias = None if delta_bias is None else dbias_p.sum(0).to(delta_bias.dtype)
        dh0 = dh0.to(ctx.h0_dtype) if ctx.has_h0 else None
        da = da_p.sum(0).to(ctx.a_dtype)
        return du, ddelta, da, db, dc, dd, dz, dbias, None, dh0, None


def selective_scan_triton(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask=0):
    """Returns out (B, D, L) in u's dtype and the last state (B, D, N) in float32.

    u (B, Du, L) with Du dividing D = delta.shape[1] (channel c reads u[:, c % Du]); bit g of
    ``rev_mask`` makes group g of B/C scan backwards. Without autograd (inference, or no input
    that needs a gradient) the forward runs alone and stores no checkpoints: by default the
    per-channel sequential kernel (``INFER_KERNEL``), which also takes u, delta and z in any
    strides and returns out in delta's layout.
    """
    tensors = (u, delta, A, B, C, D, z, delta_bias, h0)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return TritonSelectiveScan.apply(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask
        )
    if INFER_KERNEL == "seq":
        from worldssm.kernels.selective_scan.triton_seq import selective_scan_seq

        return selective_scan_seq(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0, rev_mask)
    z = None if z is None else z.contiguous()
    out, last, _, _ = _forward(
        u.contiguous(), delta.contiguous(), A.contiguous().float(), B, C, D, z, delta_bias,
        delta_softplus, h0, rev_mask, False,
    )  # fmt: skip
    return out, last
