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

# (B, T, N) layout: Triton vectorises a tile's loads along the columns (16 bytes a thread), which
# leaves too few columns for the lanes of a narrow tile: (64, 32, 1) bf16 spreads time over 8
# lanes and its scan costs 664 shuffles a tile (fp32: 4 lanes, 520; ptxas sm_90a,
# benchmarks/gpu/ptx_stats.py). lane_cols tells Triton the columns are contiguous in short runs
# only (triton_scan.lane_run), so that the lanes span BLOCK_N and each thread scans the tile's
# time steps in its registers: no shuffles, 4- or 8-byte loads.
# bf16 and fp16 scans of few columns (B x N < CHUNKED_BELOW_COLUMNS) with T >= NARROW_LANE_MIN_T
# run lane_cols tiles: (a time-invariant, backward) -> (variant, BLOCK_T, BLOCK_N, warps,
# prefetch, stages). One H100, B=8, C=1536, T=65536 (results/linear-scan-lane-cols-h100-run2.json),
# against the NARROW tiles in the same call: forward 2.71 / 2.05 ms against 3.29 / 2.63 (a
# time-varying / invariant); fwd+bwd, both passes chunked, 6.64 / 5.20 against 8.21 / 6.59.
# fp32 ran slower with lane_cols in every case. The chunked variant wins where the single pass
# leaves the SMs short of columns; with a time-invariant a the single pass did best forward.
# The same four picks were also the best lane tiles at T = 1024 and 4096 (GPU batch 42,
# results/linear-scan-lane-cols-h100-run4-short.json), against the NARROW tiles: T=1024 fwd
# 0.050 / 0.039 ms against 0.061 / 0.048, fwd+bwd 0.114 / 0.102 against 0.139 / 0.124; T=4096
# fwd 0.176 / 0.134 against 0.213 / 0.170, fwd+bwd 0.425 / 0.346 against 0.496 / 0.431. Below
# T=1024: unmeasured, the NARROW tiles stay.
# The tables' last field is the chunk chain's look-back window (0: strict chain; triton_chain.py).
# Below LANE_SINGLE_MIN_COLUMNS the chunks run a decoupled look-back of 2 chunks: with few
# columns the strict chain's latency had too few columns to hide behind. GPU batch 64, one H100,
# T=65536 (results/linear-scan-decoupled-lookback-h100-run2-few-*.json), bf16, against the
# strict-chain picks before it in the same call (a time-varying, forward / fwd+bwd): B=1,
# C=1536 0.448 / 1.058 ms against 1.337 / 3.427; B=2, C=1536 0.830 / 2.013 against 1.509 /
# 3.897; B=1, C=256 0.108 / 0.242 against 1.281 / 2.806 (a time-invariant: 0.407 / 0.917 against
# 1.381 / 2.952 at B=1, C=1536). Window 2 was the best or within 2% of it; 8 was 2-19% slower.
# At B=8, C=1536 (batch 63, -run1-*.json) look-back chunks were slower than the strict chain
# (3.176 against 2.711 ms forward), which there loses to the pipelined single pass anyway
# (NARROW_LANE).
NARROW_LANE_MIN_T = 1024
# The tables' last field is chunk_tiles: tiles of BLOCK_T steps a chunk. Above 1 each chunk scans
# its tiles once for its aggregate, takes the carry, then reads them again (from L2), so there are
# K times fewer chunk programs, each costing about 6-9 ns of chain latency. GPU batch 68, one H100,
# T=65536, C=1536 (results/linear-scan-chunk-tiles-h100-run1-*.json), bf16, against K=1 in the
# same call, B=1 / B=2:
# - forward, a time-varying, (32, 64, 1) K=4: 0.388 / 0.744 ms against 0.447 / 0.828;
# - forward, a time-invariant, (32, 64, 1) K=8: 0.255 / 0.476 against 0.407 / 0.735;
# - fwd+bwd, both (16, 64, 1) K=8: 0.930 / 1.795 (a time-varying) and 0.637 / 1.159 (invariant)
#   against 1.056 / 1.998 and 0.916 / 1.659 with (32, 64, 1) K=1. The backward's (16, 64, 1)
#   beat (32, 64, 1) K=8 in all four (0.985 / 1.882, 0.636 / 1.196 with that forward tile).
# At B=8 every K lost to NARROW_LANE's picks (batch 68, the same file).
# Shorter sequences: K halves until the sequence has CHUNK_TILES_MIN_CHUNKS chunks a column block
# (K times fewer chunks leave too few programs to fill the SMs). Batch 69, bf16, B=1 and 2,
# C=1536, T=1024 / 4096 / 16384 (results/linear-scan-chunk-tiles-h100-run2-short.json): the
# defaults this gives came within 10% of the best of 8 candidates (two tiles, K=1-8) in every
# case, most within 4%; the worst, B=2, T=4096, a time-varying: forward 0.063 against 0.057 ms
# (K=2), fwd+bwd 0.144 against 0.133. With a time-varying a fewer tiles a chunk did better at
# short T (64 chunks would have picked K=2 there), with a time-invariant one more (32).
CHUNK_TILES_MIN_CHUNKS = 32
NARROW_LANE_FEW: dict[tuple[bool, bool], tuple[str, int, int, int, bool, int, int, int]] = {
    (False, False): ("chunked", 32, 64, 1, False, 1, 2, 4),
    (True, False): ("chunked", 32, 64, 1, False, 1, 2, 8),
    (False, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
    (True, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
}
# fp32 in batch 68: with a time-varying a every K > 1 was slower (B=1 forward 0.709-0.729 ms
# against 0.600; fwd+bwd 1.701-1.756 against 1.575); with a time-invariant one K=4 forward
# (0.438 / 0.855 ms at B=1 / 2 against 0.496 / 0.933) and (32, 64, 1) K=8 backward (fwd+bwd
# 1.034 / 1.997 with a K=8 forward, against 1.183 / 2.236) were the best.
NARROW_LANE_FEW_F32: dict[tuple[bool, bool], tuple[str, int, int, int, bool, int, int, int]] = {
    (False, False): ("chunked", 32, 64, 1, False, 1, 2, 1),
    (True, False): ("chunked", 32, 64, 1, False, 1, 2, 4),
    (False, True): ("chunked", 32, 64, 1, False, 1, 2, 1),
    (True, True): ("chunked", 32, 64, 1, False, 1, 2, 8),
}
# fp32 scans of fewer than F32_LANE_BELOW_COLUMNS columns run lane chunks too (NARROW_LANE_FEW_F32,
# K=1 then), instead of the
# NARROW tiles. GPU batch 64, B=1, C=1536, T=65536: forward 0.601 / 0.498 ms against 1.824 / 1.343
# (a time-varying / invariant), fwd+bwd 1.583 / 1.183 against 4.921 / 3.801. At B=8 the NARROW
# tiles run at 94% of copy bandwidth (batch 63: 3.407 against 4.461 ms forward). Batch 65
# (-run3-near-fp32.json): at B=2 (3,072 columns) 1.152 / 3.049 ms against 1.956 / 5.337 (a
# time-varying, forward / fwd+bwd); at B=4 (6,144) mixed: 2.219 / 5.861 against 2.289 / 6.250,
# but 1.829 / 4.319 against 1.497 / 4.041 with a time-invariant a. So from 6,144 on, NARROW.
F32_LANE_BELOW_COLUMNS = 6144
# From LANE_SINGLE_MIN_COLUMNS columns on, a single pass whose tile loads are pipelined through
# shared memory (stages, cp.async; int32 offsets and the carry folded into the scan) beats the
# chunk chain except in the backward with a time-varying a. GPU batch 57, one H100, B=8, C=1536
# (results/linear-scan-stages-h100-run2-*.json), against the NARROW_LANE_FEW picks in the same
# call, T=65536 / 1024:
# - forward, a time-varying: 2.202 / 0.044 ms against 2.708 / 0.049 ((16, 128, 1) with 4 stages
#   2.157 / 0.044, kept out: half the programs, so fewer columns would leave more SMs idle);
# - forward, a time-invariant: 1.309 / 0.028 ms against 1.976 / 0.038;
# - backward, a time-invariant: (32, 64, 1) with 3 stages under a (16, 64, 1) 4-stage forward,
#   fwd+bwd 4.340 / 0.085 ms against 4.902 / 0.099 for both passes' defaults;
# - backward, a time-varying: the chunk chain stays (single passes 7.27-9.70 against 6.63 ms).
# fp32 keeps the NARROW tiles: its best lane tile with stages tied them (3.370 against 3.412 ms
# forward). The threshold, both passes: at B=4, C=1536 (6,144 columns) chunks of several tiles
# beat the single pass forward (batch 69, results/linear-scan-chunk-tiles-h100-run2-near.json:
# 1.449 / 0.914 ms with K=8 against 1.584 / 1.140, a time-varying / invariant) and the backward
# (batch 65, -run3-near-bf16.json: fwd+bwd 3.860 / 3.166 ms against 4.557 / 3.824, K=1); at
# 12,288 the single passes won (batches 63, 68). 8,192 lies between; unmeasured.
LANE_SINGLE_MIN_COLUMNS = 8192
# The backward with a time-invariant a runs look-back chunks of 8 tiles here too (it was the
# (32, 64, 1) 3-stage single pass): fwd+bwd minus the forward in the same call gave 1.90 against
# 2.70 ms at B=6, C=1536 (batch 70, -run3-threshold-bf16.json) and 2.45 against 2.69 at B=8
# (batch 68, -run1-bf16.json); the default itself checked in batch 71.
NARROW_LANE: dict[tuple[bool, bool], tuple[str, int, int, int, bool, int, int, int]] = {
    (False, False): ("single", 16, 64, 1, False, 4, 0, 1),
    (True, False): ("single", 32, 64, 1, False, 5, 0, 1),  # 4 stages 1.389 ms, 3: 1.530
    (False, True): ("chunked", 32, 64, 1, False, 1, 0, 1),
    (True, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
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
            (False); None keeps the default (see ``NARROW_LANE``).
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
    lane_kind = kind == "f16" or (kind == "f32" and columns < F32_LANE_BELOW_COLUMNS)
    lane_tiles = lane_kind and narrow and not t_major and length >= NARROW_LANE_MIN_T
    default_stages, default_lookback, default_chunk_tiles = 1, 0, 1
    if lane_tiles and variant is None and tile is None and lane_cols is not False:
        few = NARROW_LANE_FEW_F32 if kind == "f32" else NARROW_LANE_FEW
        table = NARROW_LANE if columns >= LANE_SINGLE_MIN_COLUMNS else few
        variant, *pick, default_stages, default_lookback, default_chunk_tiles = table[
            (a_const, backward)
        ]
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
    chunk_tiles = forced.get("chunk_tiles")
    if chunk_tiles is None:
        chunk_tiles = default_chunk_tiles
        while chunk_tiles > 1 and -(-length // (tile[0] * chunk_tiles)) < CHUNK_TILES_MIN_CHUNKS:
            chunk_tiles //= 2
    chunk_tiles = chunk_tiles if variant == "chunked" else 1
    return Choice(variant, *tile, packed=packed and kind == "c64", prefetch=prefetch,
                  lane_cols=lane_cols, rev=rev, shift=shift, groups=groups,
                  stages=stages, lookback=lookback, chunk_tiles=chunk_tiles)  # fmt: skip
