"""Triton linear scan: one pass over memory forward, one backward, in two launch variants.

``single``: each program owns one batch row and ``BLOCK_N`` state elements and walks time in
tiles of ``BLOCK_T`` steps: a tile of a and b is loaded (coalesced along the state axis), scanned
with ``tl.associative_scan`` along time, combined with the carry from the previous tile and
stored.

``chunked`` (few columns, long T): each program owns one ``BLOCK_T`` chunk of one (row, column
tile). It loads and scans its chunk with a zero carry, then waits for the end state of the chunk
before it (published by that chunk's program), applies it, publishes its own end state and stores
the chunk. Only the carry travels the chain, so memory traffic is the same as ``single``, and all
chunks load in parallel. Programs take chunks through an atomic ticket counter in chunk-major
order: whoever waits on chunk k-1 knows a running (or finished) program holds it, so the chain
cannot deadlock. Each published float travels with its ready flag in one 64-bit word, so no
memory fence is needed between a value and its flag. With ``Choice.lookback`` the chain is a
decoupled look-back instead (:mod:`.triton_chain`): the default for few columns.

Traffic: forward reads a, b and writes h (a once per program when time-invariant); backward reads
a, h, dh and writes db and da (da in a's dtype, or reduced in registers when a is time-invariant).
Reverse scans map the tile index onto time backwards instead of using ``reverse=True`` (which has
had wrong results for non-commutative combines on GPU in older Triton versions). The T-major
backward does use it (``rev_scan``): its tests pass on an H100 under Triton 3.6 (GPU batch 36).
Its one-column tiles run :mod:`.triton_groups` by default (``groups``), which scans a quarter of
the tile with it.

Complex tensors travel as float32 pairs or as packed int64 words (``COMPLEX_PACKED`` in
:mod:`.triton_tiles`; see :mod:`.triton_io`) and are split into real and imaginary parts in
registers.
Layout after normalisation: a (Ba, Ta, N), b and h (B, T, N), h0 (B, N), reset (B, T); b and h
may instead have T as their contiguous axis (T-major, see ``T_MAJOR``).

This module is the host side (layouts, launch, autograd); the kernels are in
:mod:`.triton_kernels`.
"""

from __future__ import annotations

import torch
import triton

from worldssm.kernels.backend import triton_interpreted
from worldssm.kernels.linear_scan import flatten_inputs
from worldssm.kernels.linear_scan.triton_groups import _scan_bwd_groups_kernel
from worldssm.kernels.linear_scan.triton_kernels import _scan_bwd_kernel, _scan_fwd_kernel
from worldssm.kernels.linear_scan.triton_tiles import Choice, choose, forced_config, scan_config

__all__ = ["linear_scan_triton", "scan_config"]

# Single-pass backward: load tile k + 1 while tile k computes (see _scan_bwd_kernel). None: on for
# complex64 only, whose tiles are small ((4, 256, 2): 238 registers, no spills, ptxas sm_90a);
# the real default tiles spill with it ((16, 256, 2) fp32: 5.4 kB of spill stores). True/False
# force it. Untimed; benchmarks/gpu/scan_bwd_profile.py times it on and off.
BWD_PREFETCH: bool | None = None

# T-major layout: a real b handed over with T as its contiguous axis (the transpose of a (B, N, T)
# tensor, the layout of 1-D sequence models and of accelerated-scan) is scanned in place, tiles
# running along T, instead of being copied to (B, T, N) first (one more read and write of b, and h
# comes back (B, T, N)-contiguous). True: always for such a b; False: never; None (the default):
# automatic, for forward-order scans with T >= T_MAJOR_MIN_T (their loads and stores vectorise
# along T: ptxas sm_90a, benchmarks/gpu/ptx_stats.py; reverse scans walk T downwards and do not).
# One H100, B=8, C=1536, T=65536 (results/scan-h100-run19-tmajor.json, -run20-*.json): the bf16
# forward in place runs at 94-97% of copy bandwidth against 33-61% for the (B, T, N) kernel (not
# counting the copy to (B, T, N)); fp32 is within 15% of it either way, while the copy it saves
# reads and writes all of b (3.2 GB each way there). scan_config(t_major=...) overrides it.
# Shorter T (GPU batch 43, results/scan-h100-run33-tmajor-short.json, same data in both layouts,
# no copy counted): T-major beat the (B, T, N) kernel at T = 256 and 1024 in all 16 cases (e.g.
# bf16 fwd 0.034 against 0.050 ms at T=1024, fp32 fwd+bwd 0.147 against 0.156) and lost at T=64
# (0.013 against 0.009 ms). But the alternative for a (B, C, T) input is the copy to (B, T, N)
# plus that kernel (batch 48, results/scan-h100-run38-tmajor-copied.json): T-major was faster
# than it in all 48 cases at T = 64, 128 and 256 (e.g. bf16 fwd+bwd 0.024 against 0.044 ms at
# T=64), and in 14 of 16 at T=32 (the two others: fwd with a time-invariant a, 0.013 against
# 0.012 ms). Below T_MAJOR_MIN_T (unmeasured) the input is copied.
T_MAJOR: bool | None = None
T_MAJOR_MIN_T = 32

# A chunk waiting longer than this many polls gives up (its output is then wrong, which the
# correctness checks catch) instead of hanging the GPU.
_MAX_POLLS = 1 << 24

# Look-back (Choice.lookback), tests only: chunks publish their end state only every this many
# chunks, so that the others' successors fold aggregates (see triton_chain._carry_out).
_LOOKBACK_INC_EVERY = 1


def _t_major(x: torch.Tensor) -> bool:
    """Whether (B, T, N) ``x`` has T as its contiguous axis (a (B, N, T) tensor's transpose)."""
    return not x.is_contiguous() and x.transpose(1, 2).is_contiguous()


def _layout(x: torch.Tensor, t_major: bool) -> torch.Tensor:
    """``x`` (B, T, N) row-major, or with T contiguous when ``t_major`` (copied if needed)."""
    if not t_major:
        return x.contiguous()
    return (
        x if x.transpose(1, 2).is_contiguous() else x.transpose(1, 2).contiguous().transpose(1, 2)
    )


def _strides(x: torch.Tensor, t_major: bool) -> dict:
    """Kernel strides of a (B, T, N) tensor in the layout ``_layout`` gives it."""
    bsz, length, n = x.shape
    if t_major:
        return {"stride_xb": length * n, "stride_xt": 1, "stride_xn": length}
    return {"stride_xb": length * n, "stride_xt": n, "stride_xn": 1}


def _real(x: torch.Tensor | None, packed: bool = False) -> torch.Tensor | None:
    """The tensor the kernels address: complex as float32 pairs, or as int64 words if packed.

    Contiguous, except a real (B, T, N) tensor with T contiguous keeps that layout (T-major).
    """
    if x is None:
        return None
    # Contiguous first: the common case, without building a transposed view (host time).
    if not x.is_contiguous() and (x.is_complex() or x.dim() != 3 or not _t_major(x)):
        x = x.contiguous()
    if not x.is_complex():
        return x
    return x.view(torch.int64) if packed else torch.view_as_real(x)


def _kind(x: torch.Tensor) -> str:
    if x.is_complex():
        return "c64"
    return "f32" if x.dtype == torch.float32 else "f16"


def lane_run(c: Choice) -> int:
    """Contiguous columns a lane for ``Choice.lane_cols`` (0: off): enough for the warps' lanes
    to span BLOCK_N, and at least 2 (with 1 on both axes, Triton 3.6 puts the lanes along T)."""
    return max(2, c.block_n // (32 * c.num_warps)) if c.lane_cols else 0


def n_chunks(c: Choice, length: int) -> int:
    """Chunks of a length-T scan under choice ``c`` (1 for the single pass): one program each
    per column tile, and one partial sum of a time-invariant a's gradient each."""
    if c.variant != "chunked":
        return 1
    return triton.cdiv(triton.cdiv(length, c.block_t), c.chunk_tiles)


def _launch(kernel, c: Choice, bsz, length, n, device, complex_, args, **flags):
    """Launch ``kernel`` for (B, T, N) with choice ``c``; adds the chunk counter and state."""
    n_cols = bsz * triton.cdiv(n, c.block_n)
    chunked = c.variant == "chunked"
    chunks = n_chunks(c, length)
    if chunked:
        # One zeroed int64 buffer: [0] ticket counter, [2:] end states (B, chunks, N, re/im)
        # with their flags, or under look-back (B, chunks, P then S, N, re/im); the states
        # start 16 bytes in so that vector stores stay aligned.
        size = 2 + bsz * chunks * n * (2 if complex_ else 1) * (2 if c.lookback else 1)
        sync = torch.zeros(size, dtype=torch.int64, device=device)
        counter, state = sync[:1], sync[2:]
    else:  # unused by the single pass: any tensor will do (no allocation, no slices: host time)
        counter = state = args[1]
    strides = [flags.pop(k) for k in ("stride_ab", "stride_at", "stride_an", "stride_xb",
                                      "stride_xt", "stride_xn")]  # fmt: skip
    # Pipelined lane tiles of the (B, T, N) layout address a batch row with int32 time offsets
    # when they fit (see _scan_bwd_kernel's OFF32; x2: complex pairs, a step past either end).
    # Not without stages: there ptxas sm_90a counted more instructions with them (716 against
    # 557 a (32, 64, 1) bf16 forward tile), the sign extension of each element's offset.
    if c.lane_cols and c.stages > 1 and not flags.get("STRIDED") and (length + 2) * n * 2 < 2**31:
        flags["OFF32"] = True
    kernel[(n_cols * chunks,)](
        *args, counter, state, length, n, *strides, **flags, PACKED=c.packed,
        LANE_COLS=lane_run(c), **({"STAGES": c.stages} if c.stages > 1 else {}),
        **({"LOOKBACK": c.lookback, "INC_EVERY": _LOOKBACK_INC_EVERY} if c.lookback else {}),
        **({"CHUNK_TILES": c.chunk_tiles} if c.chunk_tiles > 1 else {}),
        CHUNKED=chunked, MAX_POLLS=_MAX_POLLS, BLOCK_T=c.block_t, BLOCK_N=c.block_n,
        num_warps=c.num_warps,
    )  # fmt: skip
    return chunks


def _a_strides(ba: int, ta: int, n: int, t_major: bool) -> dict:
    """Kernel strides of a (Ba, Ta, N): broadcast over B when Ba = 1, over T when Ta = 1."""
    if ta == 1:
        return {"stride_ab": 0 if ba == 1 else n, "stride_at": 0, "stride_an": 1}
    if t_major:
        return {"stride_ab": 0 if ba == 1 else ta * n, "stride_at": 1, "stride_an": ta}
    return {"stride_ab": 0 if ba == 1 else ta * n, "stride_at": n, "stride_an": 1}


def use_t_major(b: torch.Tensor, reverse: bool = False) -> bool:
    """Whether a call on ``b`` runs the T-major layout: a real b with T contiguous, and
    scan_config(t_major=...) or ``T_MAJOR`` on (or None, automatic: long forward scans)."""
    if b.is_complex() or b.shape[1] <= 1 or not _t_major(b):
        return False
    on = (forced_config() or {}).get("t_major")
    on = T_MAJOR if on is None else on
    if on is None:  # automatic
        return not reverse and b.shape[1] >= T_MAJOR_MIN_T
    return bool(on)


class TritonLinearScan(torch.autograd.Function):
    """Autograd Function around the forward and backward kernels (either variant).

    Takes a broadcastable to b (B, T, *S) and h0 (B, *S). They are flattened to (., ., N) here
    rather than by the caller, so that those views are not autograd nodes: each would run on
    autograd's device thread in the backward (host time per call, GPU batch 40). The backward
    reduces da back to a's shape.
    """

    @staticmethod
    def forward(ctx, a, b, h0, reset, reverse):
        ctx.shapes = (a.shape, b.shape)
        a, b, h0, ctx.a_full_shape = flatten_inputs(a, b, h0)
        bsz, length, n = b.shape
        ba, ta = a.shape[:2]
        # T-major (b given with T contiguous, e.g. a (B, N, T) tensor's transpose): see T_MAJOR.
        t_major = use_t_major(b, reverse)
        a = _layout(a, t_major and ta > 1)
        b = _layout(b, t_major)
        h = torch.empty_like(b)  # b's layout
        h_final = torch.empty(bsz, n, dtype=b.dtype, device=b.device)
        reset_u8 = None if reset is None else reset.contiguous().view(torch.uint8)
        c = choose(bsz, length, n, _kind(b), ta == 1, False, triton_interpreted(), t_major=t_major)
        p = c.packed
        dummy = _real(b, p)
        args = (_real(a, p), dummy, dummy if h0 is None else _real(h0, p),
                dummy if reset_u8 is None else reset_u8, _real(h, p),
                _real(h_final, p))  # fmt: skip
        _launch(_scan_fwd_kernel, c, bsz, length, n, b.device, b.is_complex(), args,
                **_a_strides(ba, ta, n, t_major), **_strides(b, t_major),
                HAS_H0=h0 is not None, HAS_RESET=reset is not None, REVERSE=reverse,
                A_CONST=ta == 1, COMPLEX=b.is_complex(), PREFETCH=c.prefetch,
                STRIDED=t_major)  # fmt: skip
        ctx.save_for_backward(a, h, h0, reset_u8)
        ctx.reverse, ctx.t_major = reverse, t_major
        ctx.forced = forced_config()  # the backward may run on another thread (see there)
        b_shape = ctx.shapes[1]
        if len(b_shape) == 3:
            return h, h_final
        return h.reshape(b_shape), h_final.reshape(b_shape[:1] + b_shape[2:])

    @staticmethod
    def backward(ctx, grad_h, grad_final):
        a, h, h0, reset_u8 = ctx.saved_tensors
        bsz, length, n = h.shape
        ba, ta = a.shape[:2]
        t_major = ctx.t_major
        if grad_h is None:
            grad_h = torch.zeros_like(h)
        else:
            grad_h = _layout(grad_h.reshape(bsz, length, n), t_major)
        if grad_final is not None:
            grad_final = grad_final.reshape(bsz, n)
        a_const = ta == 1
        # Autograd runs CUDA backwards on its own thread, which does not see the caller's
        # scan_config: use the one captured by the forward (without this, forced backward
        # tiles and variants silently ran the defaults on GPUs until 2026-11-27).
        c = choose(bsz, length, n, _kind(h), a_const, True, triton_interpreted(), ctx.forced,
                   t_major=t_major)  # fmt: skip
        n_parts = n_chunks(c, length)
        dx = torch.empty_like(h)
        acc_dtype = torch.complex64 if h.is_complex() else torch.float32
        if a_const:  # per-program partial sums, reduced below
            da = torch.empty(bsz, n_parts, n, dtype=acc_dtype, device=h.device)
        elif ba == bsz:  # one da per element: write a's dtype directly (no fp32 round trip)
            da = torch.empty_like(h, dtype=a.dtype)  # h's layout, as the kernel addresses it
        else:  # a shared over the batch: per-row float32, summed below
            da = torch.empty_like(h, dtype=acc_dtype)
        dh0 = None if h0 is None else torch.empty_like(h0)
        p = c.packed
        prefetch = (h.is_complex() or c.prefetch) if BWD_PREFETCH is None else BWD_PREFETCH
        dummy = _real(h, p)
        args = (_real(a, p), dummy, dummy if h0 is None else _real(h0, p),
                dummy if reset_u8 is None else reset_u8, _real(grad_h, p),
                dummy if grad_final is None else _real(grad_final, p),
                _real(dx, p), _real(da, p), dummy if dh0 is None else _real(dh0, p))  # fmt: skip
        groups = c.groups and t_major and not ctx.reverse  # (real, single, BLOCK_N = 1: choose)
        kernel = _scan_bwd_groups_kernel if groups else _scan_bwd_kernel
        _launch(kernel, c, bsz, length, n, h.device, h.is_complex(), args,
                **_a_strides(ba, ta, n, t_major), **_strides(h, t_major),
                HAS_H0=h0 is not None, HAS_RESET=reset_u8 is not None,
                HAS_GHT=grad_final is not None, REVERSE=ctx.reverse, A_CONST=a_const,
                COMPLEX=h.is_complex(), PREFETCH=prefetch,
                UP=t_major and not ctx.reverse and not c.rev, REV=c.rev,
                SHIFT=c.shift and not ctx.reverse, STRIDED=t_major)  # fmt: skip
        # One reduction over the dims a is broadcast along (partial sums over T, rows over B).
        # (A single pass leaves one part: no sum, which would be one more launch of host time.)
        dims = (1,) * (a_const and n_parts > 1) + (0,) * (ba == 1 and bsz > 1)
        if dims:
            da = da.sum(dims, keepdim=True)
        a_shape, b_shape = ctx.shapes
        if len(b_shape) != 3 or da.shape != a_shape:  # back to the caller's shapes
            # a was expanded over the state dims it is broadcast along: sum those too.
            da = da.reshape(da.shape[:2] + b_shape[2:]).sum_to_size(ctx.a_full_shape)
            da = da.reshape(a_shape)
            dh0 = None if dh0 is None else dh0.reshape(b_shape[:1] + b_shape[2:])
            dx = dx.reshape(b_shape)
        return da if da.dtype == a.dtype else da.to(a.dtype), dx, dh0, None, None


def linear_scan_triton(a, b, h0, reset, reverse):
    """Entry point: a broadcastable to b (B, T, *S), h0 (B, *S) or None, reset (B, T) or None;
    returns h (B, T, *S) and the final state (B, *S).

    The variant (single pass or chunked) and tile follow the shape; see
    :mod:`worldssm.kernels.linear_scan.triton_tiles` and force them with :func:`scan_config`.
    """
    return TritonLinearScan.apply(a, b, h0, reset, reverse)
