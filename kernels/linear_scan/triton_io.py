"""Element I/O and the chunk chain of the Triton linear scan (:mod:`.triton_scan`).

Complex tensors reach the kernels in one of two forms, picked per launch by ``PACKED``:

- pairs (``PACKED=False``): ``torch.view_as_real``, float32 pairs read as two stride-2 accesses
  (re at 2k, im at 2k+1). Each warp access spans twice the bytes it uses, loads are never
  vectorised (one 4-byte access per lane), and a store writes half of every 32-byte sector.
- packed (``PACKED=True``): the same memory viewed as int64 (``x.view(torch.int64)``), one word
  per element, contiguous along the state axis, so Triton vectorises it like any real tensor
  (16-byte accesses: two elements per lane). Real and imaginary parts are the low and high
  32 bits (little-endian complex64), split and joined with integer shifts and bitcasts, which
  the compiler turns into register moves. No ``tl.split``/``tl.join`` (which gave wrong values
  on the GPU with Triton 3.6, exact in the interpreter).

The chunked variant's carry chain is in :mod:`.triton_chain`.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _split_words(w):
    """int64 words -> (re, im) float32: low and high 32 bits."""
    re = (w & 0xFFFFFFFF).to(tl.int32).to(tl.float32, bitcast=True)
    im = (w >> 32).to(tl.int32).to(tl.float32, bitcast=True)
    return re, im


@triton.jit
def _join_words(re, im):
    """(re, im) float32 -> int64 words (re in the low 32 bits)."""
    lo = re.to(tl.int32, bitcast=True).to(tl.int64) & 0xFFFFFFFF
    hi = im.to(tl.int32, bitcast=True).to(tl.int64) << 32
    return lo | hi


@triton.jit
def _load(ptr, off, mask, COMPLEX: tl.constexpr, OTHER: tl.constexpr = 0.0,
          PACKED: tl.constexpr = False):  # fmt: skip
    """(re, im) in float32 of the elements at ``off`` (any shape); im is 0 for real tensors.

    Masked elements read (OTHER, 0).
    """
    if COMPLEX:
        if PACKED:
            re, im = _split_words(tl.load(ptr + off, mask=mask, other=0))
            if OTHER != 0.0:
                re = tl.where(mask, re, OTHER)
        else:
            # Two stride-2 loads. (BLOCK_T, BLOCK_N, 2) tiles split with tl.split gave errors
            # of 0.5-3% on an H200 (Triton 3.6) at B=4, T=2048, N=384, exact in the interpreter.
            re = tl.load(ptr + off * 2, mask=mask, other=OTHER).to(tl.float32)
            im = tl.load(ptr + off * 2 + 1, mask=mask, other=0.0).to(tl.float32)
    else:
        re = tl.load(ptr + off, mask=mask, other=OTHER).to(tl.float32)
        im = tl.zeros_like(re)
    return re, im


@triton.jit
def _load_or_zeros(ptr, off, mask, PRESENT: tl.constexpr, COMPLEX: tl.constexpr,
                   PACKED: tl.constexpr, BLOCK_N: tl.constexpr):  # fmt: skip
    """(re, im) float32 (BLOCK_N,) at ``off`` as :func:`_load`, or zeros if not PRESENT (an
    optional input: h0, the final state's gradient, a time-invariant a)."""
    if PRESENT:
        re, im = _load(ptr, off, mask, COMPLEX, 0.0, PACKED)
    else:
        re = tl.zeros([BLOCK_N], dtype=tl.float32)
        im = tl.zeros([BLOCK_N], dtype=tl.float32)
    return re, im


@triton.jit
def _store(ptr, off, re, im, mask, COMPLEX: tl.constexpr, PACKED: tl.constexpr = False):
    if COMPLEX:
        if PACKED:
            tl.store(ptr + off, _join_words(re, im), mask=mask)
        else:
            tl.store(ptr + off * 2, re.to(ptr.dtype.element_ty), mask=mask)
            tl.store(ptr + off * 2 + 1, im.to(ptr.dtype.element_ty), mask=mask)
    else:
        tl.store(ptr + off, re.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _edge_row(x, BLOCK_T: tl.constexpr, FIRST: tl.constexpr = False):
    """The last row (BLOCK_T - 1) of a (BLOCK_T, BLOCK_N) tile, or the first (row 0) if FIRST:
    where a scan's carry ends up (the first row for a reverse=True scan)."""
    rows = tl.arange(0, BLOCK_T)
    pick = 0 if FIRST else BLOCK_T - 1
    return tl.sum(tl.where((rows == pick)[:, None], x, 0.0), axis=0)


@triton.jit
def _cut_at(reset_ptr, t, valid, T, REVERSE: tl.constexpr):
    """True where the coefficient of the step at time t is cut by an episode start."""
    if REVERSE:
        r = tl.load(reset_ptr + t + 1, mask=valid & (t + 1 < T), other=0)
    else:
        r = tl.load(reset_ptr + t, mask=valid, other=0)
    return r != 0
