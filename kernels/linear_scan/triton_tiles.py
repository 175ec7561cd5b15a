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

from .triton_lane_tiles import lane_pick

Tile = tuple[int, int, int]
Pick = tuple[int, int, int, bool]  # a tile and whether it prefetches

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

# Before 2026-11-27 (batch 22) no forced *backward* tile ever ran on a GPU: autograd runs CUDA
# backwards on its own thread, which did not see scan_config, so backward sweeps before then
# timed the default backward whatever they asked for (the forward now hands its config over).
#
# (dtype kind, a time-invariant) -> (BLOCK_T, BLOCK_N, warps, prefetch); dtype kind is "f32",
# "f16" (bf16 and fp16) or "c64". prefetch: load tile k + 1 before computing tile k (real dtypes;
# complex64 always prefetches in the backward, see triton_scan.BWD_PREFETCH). Percentages are of
# the copy bandwidth at the video shape (B=8, T=300, S=(256, 16, 16)), H100.
SINGLE_FWD: dict[tuple[str, bool], Pick] = {
    ("f32", False): (16, 256, 2, False),  # 96.5%
    ("f32", True): (16, 256, 2, False),  # 94.4%
    ("f16", False): (32, 128, 1, False),  # 95.4%; prefetching (2-8, 256, 1) 92-94%
    # batch 22: 0.221 ms (94.2%) against 0.232 ms (89.8%) for (32, 128, 1) without prefetch.
    ("f16", True): (8, 256, 1, True),
    # Packed I/O (COMPLEX_PACKED), H100 run 1 of benchmarks/gpu/linear_scan_variants.py, a
    # time-varying: (2, 256, 1) 1.295 ms (96.5%); (4, 256, 2) 1.339, (8, 128, 2) 1.334,
    # (4, 128, 1) 1.336. Time-invariant measured only at (4, 256, 2): 0.890 ms (93.7%).
    # Pair I/O (run 11): (4, 256, 2) 1.53 ms (82%); the first guess (16, 128, 2) 5.02 ms.
    ("c64", False): (2, 256, 1, False),
    ("c64", True): (2, 256, 1, False),  # untimed for a time-invariant; (4, 256, 2) 0.890 ms
}
SINGLE_BWD: dict[tuple[str, bool], Pick] = {
    # batch 22 (fwd+bwd): every tile within 1% ((2-8, 128, 1) and (4, 256, 2) with prefetch).
    ("f32", False): (16, 256, 2, False),  # 86.5%
    ("f32", True): (16, 256, 2, False),  # 80.7%
    ("f16", False): (16, 256, 2, False),  # 85% (runs 10, 13); prefetching tiles no better
    # batch 22: fwd+bwd 0.668 ms (78.0%) with (8, 256, 1, True) forward; the old (32, 128, 1)
    # (808 shuffles, 512 B of spills) 0.87-1.18 ms; prefetching (1-4, 256, 1) 0.94-1.10 ms.
    ("f16", True): (4, 256, 1, False),
    ("c64", False): (4, 256, 2, False),  # fwd+bwd 86.6% (run 13)
    ("c64", True): (4, 256, 2, False),  # 81.0%
}
# Chunked: BLOCK_N = 32 floats is one 128-byte line per time step; a chunk is held in registers.
# complex64 (packed or pairs): 32 elements are 256 bytes a step; untimed with packed I/O.
CHUNKED_FWD: dict[str, Tile] = {"f32": (128, 32, 4), "f16": (128, 32, 4), "c64": (64, 32, 4)}
CHUNKED_BWD: dict[str, Tile] = {"f32": (128, 32, 4), "f16": (128, 32, 4), "c64": (64, 32, 4)}
# Single pass over few columns (B=8, C=1536 measured, T=16384 and 65536, H100 batch 22):
# (dtype kind, a time-invariant) -> pick. fp32 fwd 94% (was 82%), fwd+bwd 82-83% (was 77%)
# with a time-varying a; 87% / 74-76% (was 67-77% / 61-63%) with a time-invariant one.
NARROW_FWD: dict[tuple[str, bool], Pick] = {
    ("f32", False): (64, 32, 1, True),
    ("f32", True): (64, 32, 1, True),
    ("f16", False): (64, 32, 1, True),  # 0.823 ms against 0.907 at T=16384
    ("f16", True): (64, 32, 1, False),  # prefetching 0.704 ms against 0.659
    ("c64", False): (64, 32, 1, False),
    ("c64", True): (64, 32, 1, False),
}
NARROW_BWD: dict[tuple[str, bool], Pick] = {
    ("f32", False): (32, 32, 1, True),
    ("f32", True): (64, 32, 2, True),
    ("f16", False): (64, 32, 2, True),  # fwd+bwd 2.085 ms against 2.413 at T=16384
    ("f16", True): (64, 32, 2, True),  # 1.839 ms against 1.942
    ("c64", False): (64, 32, 2, False),
    ("c64", True): (64, 32, 2, False),
}

# T-major layout (triton_scan.T_MAJOR: T is the contiguous axis). BLOCK_T runs along the
# contiguous axis (16-byte loads of consecutive steps, the scan inside each thread first, then
# across lanes), one column a program as in accelerated-scan's kernel. One H100, B=8, C=1536,
# T=65536, figures for a time-varying / time-invariant a.
# Forward: kind -> (tile, prefetch). bf16 (results/scan-h100-run20-tmajor-sweep.json):
# (1024, 1, 4) with prefetch 1.649 / 1.134 ms, every tile within 2% of the best. fp32
# (results/scan-h100-run24-tmajor-fp32-sweep.json): the same tile, 3.29 / 2.25 ms against 3.32 /
# 2.37 for the first guess (512, 1, 4).
T_MAJOR_FWD: dict[str, Pick] = {"f32": (1024, 1, 4, True), "f16": (1024, 1, 4, True)}
# Backward: (kind, a time-invariant) -> (tile, prefetch), with rev_scan (T_MAJOR_BWD_REV). Run 26
# (results/scan-h100-run26-tmajor-rev-sweep-*.json), fwd+bwd against the best tiles that reorder
# rows through shared memory (runs 20-24) in the same call: bf16 4.92 / 4.14 ms against 5.90 /
# 4.34 ((64, 1, 1), prefetch); fp32 8.93 / 5.74 ms against 9.51 / 5.88 ((128, 1, 1), prefetch).
# accelerated-scan took 5.23 (bf16) and 8.88 ms (fp32) in run 25.
T_MAJOR_BWD: dict[tuple[str, bool], Pick] = {
    # With the register-groups kernel (T_MAJOR_BWD_GROUPS), GPU batch 51
    # (results/scan-h100-run39-tmajor-groups-sweep-*.json), fwd+bwd, against the rev_scan +
    # shift_rows defaults before it in the same call: bf16 4.391 / 2.860 ms against 4.767 /
    # 3.801 (a time-varying / invariant; 97.2% / 93.3% of copy bandwidth); fp32 8.769 / 5.569
    # against 8.885 / 5.742 (97.4% / 95.8%).
    ("f16", False): (2048, 1, 4, True),  # (1024, 1, 2) 4.418, (256, 1, 1) 4.631
    ("f16", True): (256, 1, 1, True),  # (512, 1, 2) 2.866, (1024, 1, 4) 2.921, (512, 1, 1) 3.128
    ("f32", False): (2048, 1, 4, True),  # (1024, 1, 4) 8.835, (512, 1, 2) 8.905
    ("f32", True): (2048, 1, 4, True),  # (512, 1, 2) 5.575, (1024, 1, 4) 5.593
}
# Before the groups kernel (rev_scan + shift_rows), for scan_config(groups=False): bf16 (256, 1,
# 1) / (512, 1, 1) for a time-varying / invariant a (batch 44), fp32 (1024, 1, 4) without
# prefetch / (128, 1, 1) (run 26).
# T-major backward: True scans each tile's rows in increasing time with
# tl.associative_scan(reverse=True) (``scan_config(rev_scan=True)``: dh loads and dx/da stores
# vectorise, a_{t+1} and h_{t-1} are loads shifted by one step), False reorders them into
# decreasing time through shared memory (tl.gather; the kernels' UP). The GPU tests check both.
T_MAJOR_BWD_REV: dict[str, bool] = {"f32": True, "f16": True}
# rev_scan backward: (kind, a time-invariant) -> True takes a_{t+1} and h_{t-1} from the tile's
# aligned loads shifted by one row in registers (``scan_config(shift_rows=True)``, the kernels'
# SHIFT) instead of loading them one step off the tile's alignment, which Triton does with one
# 2- or 4-byte load per element (ptxas sm_90a, bf16 (512, 1, 1) with a time-invariant a: 35 of
# its 39 global loads are scalar; 13 with 8 vectorised when shifted). One H100, B=8, C=1536,
# T=65536, fwd+bwd, GPU batch 44 (results/scan-h100-run34-tmajor-shift-sweep-*.json), against
# the T_MAJOR_BWD tile without it in the same call: bf16 4.764 / 3.800 ms against 4.920 / 3.996
# (a time-varying / invariant; 90.0% / 70.5% of copy bandwidth); fp32 8.884 against 8.975 ms
# with a time-varying a. fp32 with a time-invariant a: 5.722 against 5.745 ms, within noise
# (left off). Multi-warp tiles shift through shared memory and ran 5-40% slower.
T_MAJOR_BWD_SHIFT: dict[tuple[str, bool], bool] = {
    ("f16", False): True,
    ("f16", True): True,
    ("f32", False): True,
}
# T-major backward of one-column tiles in register groups (triton_groups.py: no reverse=True
# scan over the tile, no whole-tile row shifts; ptxas sm_90a, bf16 (512, 1, 1) with a
# time-invariant a: 150 shuffles against 870 for rev_scan + shift_rows). (kind, a
# time-invariant) -> on. Faster for every kind in GPU batch 51 (see T_MAJOR_BWD).
T_MAJOR_BWD_GROUPS: dict[tuple[str, bool], bool] = {
    ("f16", False): True,
    ("f16", True): True,
    ("f32", False): True,
    ("f32", True): True,
}


def _t_major_short(tile: Tile, length: int) -> Tile:
    """A T-major tile for a sequence shorter than its BLOCK_T: the power of two that covers T
    (at least 32 steps, one a lane), with warps cut so that each thread still holds 8 or more
    steps (16-byte bf16 loads)."""
    block_t = max(32, 1 << (length - 1).bit_length())
    return block_t, tile[1], max(1, min(tile[2], block_t // 256))


@dataclass(frozen=True)
class Choice:
    """What one kernel launch runs."""

    variant: str  # "single" or "chunked"
    block_t: int
    block_n: int
    num_warps: int
    packed: bool = False  # complex64 as int64 words (triton_io.py)
    prefetch: bool = False  # real dtypes: load tile k + 1 before computing tile k (fwd and bwd)
    lane_cols: bool = False  # (B, T, N) layout: lanes across the columns, time in registers
    rev: bool = False  # backward: rows in increasing time, scanned with reverse=True
    shift: bool = False  # rev backward, T-major: shifted rows from aligned loads (SHIFT)
    groups: bool = False  # T-major single-column backward in register groups (triton_groups)
    stages: int = 1  # single pass: tiles of loads in flight through shared memory (1: none)
    lookback: int = 0  # chunked: 0 strict carry chain, W >= 1 decoupled look-back W chunks wide
    chunk_tiles: int = 1  # chunked: tiles a chunk (> 1: aggregate first, then the tiles again)


_FORCED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scan_config", default=None)


@contextlib.contextmanager
def scan_config(
    variant: str | None = None,
    tile: Tile | None = None,
    bwd_tile: Tile | None = None,
    packed: bool | None = None,
    prefetch: bool | None = None,
    bwd_prefetch: bool | None = None,
    t_major: bool | None = None,
    lane_cols: bool | None = None,
    rev_scan: bool | None = None,
    shift_rows: bool | None = None,
    groups: bool | None = None,
    stages: int | None = None,
    bwd_stages: int | None = None,
    lookback: int | None = None,
    chunk_tiles: int | None = None,
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
        t_major: scan a real b (fp32, bf16, fp16) whose T axis is contiguous in place (True)
            or copy it to (B, T, N) first (False); None keeps ``triton_scan.T_MAJOR``.
        lane_cols: (B, T, N) layout: spread the lanes over the tile's columns and scan time
            inside each thread (True; best with BLOCK_N = 64 x warps or more) or let Triton
            vectorise along the columns, which may spread a tile's time steps over lanes
            (False); None keeps the default (see ``triton_lane_tiles``).
        rev_scan: backward: hold each tile's rows in increasing time and scan them with
            ``tl.associative_scan(reverse=True)`` (True) or in decreasing time (False); None
            keeps the default (``T_MAJOR_BWD_REV`` for the T-major layout, else off).
        shift_rows: T-major rev_scan backward of a forward-order scan: a_{t+1} and h_{t-1}
            from the tile's aligned loads shifted in registers (True) or loaded one step off
            (False); None keeps ``T_MAJOR_BWD_SHIFT``.
        groups: T-major backward of a real forward-order scan with one-column tiles
            (BLOCK_N = 1, single pass): run :mod:`.triton_groups`, which scans register groups
            of four steps instead of the tile with reverse=True (True), or the rev_scan /
            shift_rows kernel (False); None keeps ``T_MAJOR_BWD_GROUPS``.
        stages: single pass: pipeline depth of the tile loop (``tl.range(num_stages=...)``):
            Triton copies the next ``stages - 1`` tiles into shared memory (cp.async) while
            one tile computes; 1 loads each tile when it is needed. None keeps the default.
            Ignored by chunks (one tile a program) and by the register-groups backward.
        bwd_stages: the same for the backward alone (default: ``stages``).
        lookback: chunked variant, forward and backward: 0 runs the strict carry chain (each
            chunk waits for the one before it), W >= 1 a decoupled look-back that reads W
            predecessors a round trip (:mod:`.triton_chain`). None keeps the default.
        chunk_tiles: chunked variant: tiles of BLOCK_T steps a chunk (a power of two). Above 1 a
            program first scans its tiles for the chunk's aggregate, takes the carry, then
            loads and scans them again with it: fewer programs for the same BLOCK_T, the tiles
            read twice (the second time from L2 when recent). None keeps the default (1).

    Example::

        with scan_config("chunked", tile=(8, 4, 1)):   # tiny chunks: exercise the chain on CPU
            h = linear_scan(a, b, backend="triton")
    """
    if variant not in (None, "single", "chunked"):
        raise ValueError(f"scan_config: variant must be 'single' or 'chunked'; got {variant!r}")
    for t in (tile, bwd_tile):
        if t is not None and (len(t) != 3 or any(x < 1 or x & (x - 1) for x in t[:2])):
            raise ValueError(f"scan_config: tile must be (BLOCK_T, BLOCK_N, warps), 2^k: {t}")
    for st in (stages, bwd_stages):
        if st is not None and (not isinstance(st, int) or st < 1):
            raise ValueError(f"scan_config: stages must be an int >= 1 (1: no pipelining): {st}")
    if lookback is not None and (not isinstance(lookback, int) or lookback < 0):
        raise ValueError(f"scan_config: lookback must be an int >= 0 (0: strict chain): {lookback}")
    if lookback and lookback & (lookback - 1):
        raise ValueError(f"scan_config: lookback must be 0 or a power of two: {lookback}")
    ct = chunk_tiles
    if ct is not None and (not isinstance(ct, int) or ct < 1 or ct & (ct - 1)):
        raise ValueError(f"scan_config: chunk_tiles must be a power of two >= 1: {ct}")
    forced = {
        "variant": variant,
        "tile": tile,
        "bwd_tile": bwd_tile or tile,
        "packed": packed,
        "prefetch": prefetch,
        "bwd_prefetch": prefetch if bwd_prefetch is None else bwd_prefetch,
        "t_major": t_major,
        "lane_cols": lane_cols,
        "rev_scan": rev_scan,
        "shift_rows": shift_rows,
        "groups": groups,
        "stages": stages,
        "bwd_stages": stages if bwd_stages is None else bwd_stages,
        "lookback": lookback,
        "chunk_tiles": chunk_tiles,
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
    t_major: bool = False,
) -> Choice:
    """Variant and tile for a (B, T, N) scan of dtype ``kind`` ("f32", "f16" or "c64").

    ``forced``: a :func:`forced_config` captured earlier; default the one in force now.
    ``t_major``: b has T as its contiguous axis (real dtypes).
    """
    forced = (forced if forced is not None else _FORCED.get()) or {}
    columns = bsz * n * (2 if kind == "c64" else 1)
    narrow = columns < CHUNKED_BELOW_COLUMNS
    variant = forced.get("variant")
    tile = forced.get("bwd_tile" if backward else "tile")
    lane_cols = forced.get("lane_cols")
    pick = None
    default_stages, default_lookback, default_chunk_tiles = 1, 0, 1
    lane = None if t_major else lane_pick(kind, columns, length, a_const, backward, narrow)
    if lane and variant is None and tile is None and lane_cols is not False:
        variant, *pick, default_stages, default_lookback, default_chunk_tiles = lane
        lane_cols = True
    if variant is None:
        chunk = (CHUNKED_BWD if backward else CHUNKED_FWD)[kind][0]
        variant = "chunked" if AUTO_CHUNKED and narrow and length > 2 * chunk else "single"
    if pick is not None:
        pass
    elif t_major:  # either variant: a chunk is one tile along T
        pick = T_MAJOR_BWD[(kind, a_const)] if backward else T_MAJOR_FWD[kind]
    elif variant == "chunked":
        pick = (*(CHUNKED_BWD if backward else CHUNKED_FWD)[kind], False)
    elif narrow:
        pick = (NARROW_BWD if backward else NARROW_FWD)[(kind, a_const)]
    else:
        pick = (SINGLE_BWD if backward else SINGLE_FWD)[(kind, a_const)]
    if tile is None:  # the CPU interpreter runs each tile element by element: small tiles
        tile = (8, 16, 1) if interpreted else tuple(pick[:3])
        if t_major and not interpreted and length < tile[0]:
            tile = _t_major_short(tile, length)
    packed = forced.get("packed")
    packed = COMPLEX_PACKED if packed is None else packed
    prefetch = forced.get("bwd_prefetch" if backward else "prefetch")
    if prefetch is None:
        prefetch = pick[3] and kind != "c64"
    rev = forced.get("rev_scan")
    if rev is None:
        rev = t_major and T_MAJOR_BWD_REV.get(kind, False)
    lane_cols = bool(lane_cols) and not t_major
    rev = bool(rev) and backward
    shift = forced.get("shift_rows")
    if shift is None:
        shift = T_MAJOR_BWD_SHIFT.get((kind, a_const), False)
    shift = bool(shift) and rev and t_major and kind != "c64"
    groups = forced.get("groups")
    if groups is None:
        groups = T_MAJOR_BWD_GROUPS.get((kind, a_const), False)
    groups = bool(groups) and backward and t_major and kind != "c64" and variant == "single"
    groups = groups and tile[1] == 1 and tile[0] >= 8
    stages = forced.get("bwd_stages" if backward else "stages") or default_stages
    stages = 1 if variant == "chunked" or groups else stages
    lookback = forced.get("lookback")
    lookback = default_lookback if lookback is None else lookback
    lookback = lookback if variant == "chunked" else 0
    chunk_tiles = forced.get("chunk_tiles") or default_chunk_tiles
    chunk_tiles = chunk_tiles if variant == "chunked" else 1
    return Choice(variant, *tile, packed=packed and kind == "c64", prefetch=prefetch,
                  lane_cols=lane_cols, rev=rev, shift=shift, groups=groups,
                  stages=stages, lookback=lookback, chunk_tiles=chunk_tiles)  # fmt: skip
