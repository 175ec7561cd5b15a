# Never run as is: batch 79 ran this sweep on the H200 (run 53; multi-warp tiles lost).
# GPU batch 78 (one GPU; prepared, not yet run): multi-warp lane tiles for the (B, T, C) layout
# (lane_cols_sweep.py --family multiwarp). Every lane tile so far ran one warp a program, so a
# bf16 scan at B=8, C=1536 runs 192 warps on 132 SMs and is latency-bound (fwd 71.5% of copy
# bandwidth with a time-varying a, run 50). With lane_cols the warps of a (BLOCK_T, 64, W) tile lie
# along T (ptxas, Triton 3.8): W times the warps, a scan across warps a tile. bf16 at B=8 and
# B=1 (C=1536, T=65536), forward and fwd+bwd, each row checked against the default path.
source benchmarks/gpu/setup.sh
R=/tmp/res78 && mkdir -p $R
cd .snap
S="python3 -P benchmarks/gpu/lane_cols_sweep.py --family multiwarp --dtypes bf16"
timeout 330 $S --budget 300 --shapes 8x1536 --out $R/multiwarp-b8.json > $R/multiwarp-b8.log 2>&1
left=$((560 - SECONDS)); [ $left -gt 60 ] && timeout $left $S --budget $((left - 30)) \
  --shapes 1x1536 --out $R/multiwarp-b1.json > $R/multiwarp-b1.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -h "ms " $R/multiwarp-*.log | cut -c1-160
