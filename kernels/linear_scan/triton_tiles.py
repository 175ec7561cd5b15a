"""Which Triton linear-scan variant and tile a call runs, chosen from its shape (no autotuning).

Two variants (both in :mod:`worldssm.kernels.linear_scan.triton_scan`):

- ``single``: one program per (batch row, ``BLOCK_N`` columns) walks all of T in ``BLOCK_T``
  tiles. Fast when B x N alone fills the GPU (the video shape: B x N = 524,288 columns).
- ``chunked``: one program per (``BLOCK_T`` chunk of time, batch row, ``BLOCK_N`` columns);
  each chunk waits for its predecessor's end state (a chained scan), so T is parallel too. For
  long, narrow inputs (B=8, N=1536, T up to 65536: 12,288 columns).

A tile is ``(BLOCK_T, BLOCK_N, num_warps)``. The single-pass tiles are the winners of the H100
sweep at the video shape (benchmarks/results/tune-linear-scan-h100.log; fwd and bwd read off
separately from its fwd and fwd+bwd columns). The chunked tiles are first guesses
that ``benchmarks/scan.py --sections tiles`` measures.

Tests and benchmarks force a variant or tile with :func:`scan_config`.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

Tile = tuple[int, int, int]

# Below this many independent columns (B x N, complex counted twice) a single pass over T leaves
# the H100's 132 SMs short of loads in flight; T-parallel chunks fix that. A first guess between
# the shapes measured (12,288 columns: single pass 83% of copy BW at T=65536, 69% at T=1024;
# 524,288 columns: 94-97%).
CHUNKED_BELOW_COLUMNS = 1 << 16
# The chunked variant is chosen automatically only when this is on. Off since its first GPU run
# (2026-11-27, H200): it matched but did not beat the single pass on the long shapes (T=16384
# fp32 fwd+bwd 2.48 vs 2.46 ms) and its cross-program spin-wait is the riskier design. It stays
# available through ``scan_config("chunked")``, which the benchmark and tests use.
AUTO_CHUNKED = False
# complex64 I/O: True reads and writes each element as one int64 word (contiguous, vectorised
# loads; see triton_io.py), False as two stride-2 float32 accesses (the code of runs 10-12).
# H100 A/B (results/linear-scan-variants-h100-run1.json, copy 3020 GB/s, video shape): forward
# a time-varying 1.542 ms (81%) pairs -> 1.295 ms (96.5%) packed (2, 256, 1); time-invariant
# 1.321 -> 0.890 ms; fwd+bwd 6.58 -> 6.38 ms and 4.68 -> 4.29 ms (the backward did not change).
COMPLEX_PACKED = True

# (dtype kind, a time-invariant) -> tile; dtype kind is "f32", "f16" (bf16 and fp16) or "c64".
SINGLE_FWD: dict[tuple[str, bool], Tile] = {
    ("f32", False): (16, 256, 2),  # 96.5% of copy BW at the video shape
    ("f32", True): (16, 256, 2),  # 94.0%
    ("f16", False): (32, 128, 1),  # 95.4%
    ("f16", True): (32, 128, 1),  # 89.6%
    # Packed I/O (COMPLEX_PACKED), H100 run 1 of benchmarks/gpu/linear_scan_variants.py, a
    # time-varying: (2, 256, 1) 1.295 ms (96.5%); (4, 256, 2) 1.339, (8, 128, 2) 1.334,
    # (4, 128, 1) 1.336. Time-invariant measured only at (4, 256, 2): 0.890 ms (93.7%).
    # Pair I/O (run 11): (4, 256, 2) 1.53 ms (82%); the first guess (16, 128, 2) 5.02 ms.
    ("c64", False): (2, 256, 1),
    ("c64", True): (2, 256, 1),  # untimed for a time-invariant; (4, 256, 2) 0.890 ms
}
SINGLE_BWD: dict[tuple[str, bool], Tile] = {
    ("f32", False): (16, 256, 2),  # fwd+bwd 85.9%
    ("f32", True): (16, 256, 2),  # 80.9%
    ("f16", False): (16, 256, 2),  # bwd alone ~1.11 ms, (32, 128, 1) ~1.52 ms
    ("f16", True): (32, 128, 1),  # bwd alone ~0.54 ms, the best in the sweep
    # Packed, H100 run 1: fwd+bwd 6.38-6.40 ms (a time-varying) and 4.29 ms (invariant) for
    # every tile tried ((4, 256, 2), (4, 128, 2), (8, 128, 2), (4, 64, 1), (2, 128, 1)); the
    # backward runs at ~1.3 TB/s whatever the tile (see benchmarks/gpu/scan_bwd_profile.py).
    ("c64", False): (4, 256, 2),
    ("c64", True): (4, 256, 2),
}
# Chunked: BLOCK_N = 32 floats is one 128-byte line per time step; a chunk is held in registers.
# complex64 (packed or pairs): 32 elements are 256 bytes a step; untimed with packed I/O.
CHUNKED_FWD: dict[str, Tile] = {"f32": (128, 32, 4), "f16": (128, 32, 4), "c64": (64, 32, 4)}
CHUNKED_BWD: dict[str, Tile] = {"f32": (128, 32, 4), "f16": (128, 32, 4), "c64": (64, 32, 4)}
# Single pass over few columns and T shorter than two chunks: narrow tiles, lanes along time
# ((64, 32, 1) spills registers in the backward: 192 bytes per thread, ptxas for sm_90).
NARROW_FWD: Tile = (64, 32, 1)
NARROW_BWD: Tile = (64, 32, 2)


@dataclass(frozen=True)
class Choice:
    """What one kernel launch runs."""

    variant: str  # "single" or "chunked"
    block_t: int
    block_n: int
    num_warps: int
    packed: bool = False  # complex64 as int64 words (triton_io.py)
    prefetch: bool = False  # real dtypes: load tile k + 1 before computing tile k (fwd and bwd)


_FORCED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scan_config", default=None)


@contextlib.contextmanager
def scan_config(
    variant: str | None = None,
    tile: Tile | None = None,
    bwd_tile: Tile | None = None,
    packed: bool | None = None,
    prefetch: bool | None = None,
    bwd_prefetch: bool | None = None,
):
    """Force the Triton linear-scan variant and/or tile inside the ``with`` block.

    Args:
        variant: ``"single"`` or ``"chunked"``; None keeps the shape heuristic.
        tile: (BLOCK_T, BLOCK_N, num_warps) for the forward (and the backward unless
            ``bwd_tile`` is given). BLOCK_T and BLOCK_N must be powers of two.
        bwd_tile: tile of the backward kernel.
        packed: complex64 I/O as int64 words (True) or float32 pairs (False); None keeps
            ``COMPLEX_PACKED``.
        prefetch: real dtypes: load tile k + 1 before computing tile k, in the forward and
            the backward (complex64 always prefetches in the backward); None keeps the default.
        bwd_prefetch: the same for the backward alone (default: ``prefetch``).

    Example::

        with scan_config("chunked", tile=(8, 4, 1)):   # tiny chunks: exercise the chain on CPU
            h = linear_scan(a, b, backend="triton")
    """
    if variant not in (None, "single", "chunked"):
        raise ValueError(f"scan_config: variant must be 'single' or 'chunked'; got {variant!r}")
    for t in (tile, bwd_tile):
        if t is not None and (len(t) != 3 or any(x < 1 or x & (x - 1) for x in t[:2])):
            raise ValueError(f"scan_config: tile must be (BLOCK_T, BLOCK_N, warps), 2^k: {t}")
    forced = {
        "variant": variant,
        "tile": tile,
        "bwd_tile": bwd_tile or tile,
        "packed": packed,
        "prefetch": prefetch,
        "bwd_prefetch": prefetch if bwd_prefetch is None else bwd_prefetch,
    }
    token = _FORCED.set(forced)
    try:
        yield
    finally:
        _FORCED.reset(token)


def forced_config() -> dict | None:
    """The :func:`scan_config` in force here (None outside one).

    The forward stores it for its backward: autograd runs the backward of CUDA tensors on its
    own worker thread, where the caller's context variables are not set.
    """
    return _FORCED.get()


def choose(
    bsz: int,
    length: int,
    n: int,
    kind: str,
    a_const: bool,
    backward: bool,
    interpreted: bool,
    forced: dict | None = None,
) -> Choice:
    """Variant and tile for a (B, T, N) scan of dtype ``kind`` ("f32", "f16" or "c64").

    ``forced``: a :func:`forced_config` captured earlier; default the one in force now.
    """
    forced = (forced if forced is not None else _FORCED.get()) or {}
    columns = bsz * n * (2 if kind == "c64" else 1)
    variant = forced.get("variant")
    if variant is None:
        chunk = (CHUNKED_BWD if backward else CHUNKED_FWD)[kind][0]
        narrow_and_long = columns < CHUNKED_BELOW_COLUMNS and length > 2 * chunk
        variant = "chunked" if AUTO_CHUNKED and narrow_and_long else "single"
    tile = forced.get("bwd_tile" if backward else "tile")
    if tile is None:
        if interpreted:
            tile = (8, 16, 1)  # the CPU interpreter runs each tile element by element
        elif variant == "chunked":
            tile = (CHUNKED_BWD if backward else CHUNKED_FWD)[kind]
        elif columns < CHUNKED_BELOW_COLUMNS:
            tile = NARROW_BWD if backward else NARROW_FWD
        else:
            tile = (SINGLE_BWD if backward else SINGLE_FWD)[(kind, a_const)]
    packed = forced.get("packed")
    packed = COMPLEX_PACKED if packed is None else packed
    prefetch = forced.get("bwd_prefetch" if backward else "prefetch")
    if prefetch is None:
        prefetch = False
    return Choice(variant, *tile, packed=packed and kind == "c64", prefetch=prefetch)
