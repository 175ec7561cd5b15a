# GPU batch 79 (one H200, nvidia-h200: the H100 kind is no longer lent): batch 78's multi-warp
# lane-tile sweep (bf16, B=8 then B=1, C=1536, T=65536), while accelerated-scan's CUDA
# extension builds in the background (load_inline, >150 s on a fresh machine; CPU only). The
# built extension comes back as warp-ext.tgz, so that the next batch (the whole benchmark on
# this card) can unpack it into ~/.cache/torch_extensions and skip the build.
source benchmarks/gpu/setup.sh
R=/tmp/res79 && mkdir -p $R
(timeout 400 python3 -c "import accelerated_scan.warp" > $R/warp-build.log 2>&1; \
 echo "warp build rc $?" >> $R/warp-build.log) &
cd .snap
S="python3 -P benchmarks/gpu/lane_cols_sweep.py --family multiwarp --dtypes bf16"
timeout 300 $S --budget 270 --shapes 8x1536 --out $R/multiwarp-b8.json > $R/multiwarp-b8.log 2>&1
left=$((545 - SECONDS)); [ $left -gt 60 ] && timeout $left $S --budget $((left - 30)) \
  --shapes 1x1536 --out $R/multiwarp-b1.json > $R/multiwarp-b1.log 2>&1
wait
tail -n 1 $R/warp-build.log
tar czf $OUT/warp-ext.tgz -C ~/.cache torch_extensions && ls -la $OUT/warp-ext.tgz
tar czf $OUT/results.tgz -C $R .
grep -h "ms " $R/multiwarp-*.log | cut -c1-160
