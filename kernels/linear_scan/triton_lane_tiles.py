"""Lane tiles for (B, T, N) scans of few columns: which chunked or single pass, tile, look-back
window and chunk size :func:`worldssm.kernels.linear_scan.triton_tiles.choose` runs for bf16 /
fp16 (and fp32 below ``F32_LANE_BELOW_COLUMNS``) when B x N is small and T long.

Each pick is (variant, BLOCK_T, BLOCK_N, warps, prefetch, stages, lookback, chunk_tiles), keyed
by (a time-invariant, backward). The figures beside each table are the GPU runs that chose it.
"""

from __future__ import annotations

LanePick = tuple[str, int, int, int, bool, int, int, int]

# (B, T, N) layout: Triton vectorises a tile's loads along the columns (16 bytes a thread), which
# leaves too few columns for the lanes of a narrow tile: (64, 32, 1) bf16 spreads time over 8
# lanes and its scan costs 664 shuffles a tile (fp32: 4 lanes, 520; ptxas sm_90a,
# benchmarks/gpu/ptx_stats.py). lane_cols tells Triton the columns are contiguous in short runs
# only (triton_scan.lane_run), so that the lanes span BLOCK_N and each thread scans the tile's
# time steps in its registers: no shuffles, 4- or 8-byte loads.
# bf16 and fp16 scans of few columns (B x N < triton_tiles.CHUNKED_BELOW_COLUMNS) with T >=
# NARROW_LANE_MIN_T run lane_cols tiles (LanePick). First picks, one H100, B=8, C=1536, T=65536
# (results/linear-scan-lane-cols-h100-run2.json), against the NARROW tiles in the same call: forward
# 2.71 / 2.05 ms against 3.29 / 2.63 (a time-varying / invariant); fwd+bwd, both passes chunked,
# 6.64 / 5.20 against 8.21 / 6.59. fp32 ran slower with lane_cols in every case. The chunked variant
# wins where the single pass leaves the SMs short of columns; with a time-invariant a the single
# pass did best forward.
# The same four picks were also the best lane tiles at T = 1024 and 4096 (GPU batch 42,
# results/linear-scan-lane-cols-h100-run4-short.json), against the NARROW tiles: T=1024 fwd
# 0.050 / 0.039 ms against 0.061 / 0.048, fwd+bwd 0.114 / 0.102 against 0.139 / 0.124; T=4096
# fwd 0.176 / 0.134 against 0.213 / 0.170, fwd+bwd 0.425 / 0.346 against 0.496 / 0.431. Below
# T=1024: unmeasured, the NARROW tiles stay.
# The tables' seventh field is the chain's look-back window (0: strict chain; triton_chain.py).
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
NARROW_LANE_FEW: dict[tuple[bool, bool], LanePick] = {
    (False, False): ("chunked", 32, 64, 1, False, 1, 2, 4),
    (True, False): ("chunked", 32, 64, 1, False, 1, 2, 8),
    (False, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
    (True, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
}
# fp32 in batch 68: with a time-varying a every K > 1 was slower (B=1 forward 0.709-0.729 ms
# against 0.600; fwd+bwd 1.701-1.756 against 1.575); with a time-invariant one K=4 forward
# (0.438 / 0.855 ms at B=1 / 2 against 0.496 / 0.933) and (32, 64, 1) K=8 backward (fwd+bwd
# 1.034 / 1.997 with a K=8 forward, against 1.183 / 2.236) were the best.
NARROW_LANE_FEW_F32: dict[tuple[bool, bool], LanePick] = {
    (False, False): ("chunked", 32, 64, 1, False, 1, 2, 1),
    (True, False): ("chunked", 32, 64, 1, False, 1, 2, 4),
    (False, True): ("chunked", 32, 64, 1, False, 1, 2, 1),
    (True, True): ("chunked", 32, 64, 1, False, 1, 2, 8),
}
# fp32 scans of fewer than F32_LANE_BELOW_COLUMNS columns run lane chunks too (NARROW_LANE_FEW_F32,
# figures at K=1) instead of the NARROW tiles. GPU batch 64, B=1, C=1536, T=65536: forward 0.601 /
# 0.498 ms against 1.824 / 1.343 (a time-varying / invariant), fwd+bwd 1.583 / 1.183 against 4.921 /
# 3.801. At B=8 the NARROW tiles run at 94% of copy bandwidth (batch 63: 3.407 against 4.461 ms
# forward). Batch 65 (-run3-near-fp32.json): at B=2 (3,072 columns) 1.152 / 3.049 ms against 1.956 /
# 5.337 (a time-varying, forward / fwd+bwd); at B=4 (6,144) mixed: 2.219 / 5.861 against 2.289 /
# 6.250, but 1.829 / 4.319 against 1.497 / 4.041 with a time-invariant a. So from 6,144 on, NARROW.
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
# (32, 64, 1) 3-stage single pass) from T = NARROW_LANE_CHUNKS_MIN_T on. GPU batch 71, one H100,
# C=1536 (results/linear-scan-chunk-tiles-h100-run4-bwd-ti*.json), fwd+bwd against the single
# pass, T = 1024 / 4096 / 16384 / 65536: B=6 0.077 / 0.227 / 0.799 / 3.060 ms against 0.078 /
# 0.257 / 0.973 / 3.839; B=8 0.095 / 0.273 / 0.962 / 3.753 against 0.080 / 0.267 / 1.007 /
# 4.016. Below 4096 the single pass stays (NARROW_LANE_SHORT).
NARROW_LANE_CHUNKS_MIN_T = 4096
NARROW_LANE: dict[tuple[bool, bool], LanePick] = {
    (False, False): ("single", 16, 64, 1, False, 4, 0, 1),
    (True, False): ("single", 32, 64, 1, False, 5, 0, 1),  # 4 stages 1.389 ms, 3: 1.530
    (False, True): ("chunked", 32, 64, 1, False, 1, 0, 1),
    (True, True): ("chunked", 16, 64, 1, False, 1, 2, 8),
}
NARROW_LANE_SHORT = {**NARROW_LANE, (True, True): ("single", 32, 64, 1, False, 3, 0, 1)}


def lane_pick(
    kind: str, columns: int, length: int, a_const: bool, backward: bool, narrow: bool
) -> LanePick | None:
    """The lane tile for a (B, T, N) scan of ``columns`` = B x N columns, or None where the
    NARROW / single tiles of triton_tiles apply (fp32 from F32_LANE_BELOW_COLUMNS on, T below
    NARROW_LANE_MIN_T, complex64, or not ``narrow``).

    ``kind``: "f32", "f16" or "c64". The chunk size (the pick's last field) halves at short T
    until the sequence has CHUNK_TILES_MIN_CHUNKS chunks.
    """
    lane_kind = kind == "f16" or (kind == "f32" and columns < F32_LANE_BELOW_COLUMNS)
    if not (lane_kind and narrow and length >= NARROW_LANE_MIN_T):
        return None
    if columns >= LANE_SINGLE_MIN_COLUMNS:
        table = NARROW_LANE if length >= NARROW_LANE_CHUNKS_MIN_T else NARROW_LANE_SHORT
    else:
        table = NARROW_LANE_FEW_F32 if kind == "f32" else NARROW_LANE_FEW
    *pick, chunk_tiles = table[(a_const, backward)]
    while chunk_tiles > 1 and -(-length // (pick[1] * chunk_tiles)) < CHUNK_TILES_MIN_CHUNKS:
        chunk_tiles //= 2
    return (*pick, chunk_tiles)
