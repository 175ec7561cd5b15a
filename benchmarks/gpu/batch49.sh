# GPU batch 49 (one GPU): bf16 (B, T, C) lane tiles at T = 1024 and 4096 with shorter chunks
# (accelerated-scan's bf16 forward was 1.14x faster than ours at T=1024 in run 35).
source benchmarks/gpu/setup.sh
R=/tmp/res49 && mkdir -p $R
cd .snap
timeout 150 python3 -P benchmarks/gpu/lane_cols_sweep.py --lengths 1024,4096 --dtypes bf16 \
  --budget 130 --out $R/lane.json > $R/lane.log 2>&1
tar czf $OUT/results.tgz -C $R .
cut -c1-130 $R/lane.log
