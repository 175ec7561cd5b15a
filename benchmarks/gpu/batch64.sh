# GPU batch 64 (one GPU): batch 63's look-back sweep with fewer columns, where chunks are the
# default (NARROW_LANE_FEW below 6,144 columns) and a strict chain has few columns to spread
# its latency over: (B, C) = (1, 1536), (2, 1536), (1, 256) at T=65536, bf16; fp32 at (1, 1536).
source benchmarks/gpu/setup.sh
R=/tmp/res64 && mkdir -p $R
cd .snap
timeout 230 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 220 --dtypes bf16 \
  --shapes 1x1536,2x1536,1x256 --out $R/lookback-sweep-few-bf16.json \
  > $R/lookback-sweep-few-bf16.log 2>&1
timeout 100 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 90 --dtypes fp32 \
  --shapes 1x1536 --out $R/lookback-sweep-few-fp32.json > $R/lookback-sweep-few-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/lookback-sweep-*.log | sed 's/pf=False stages=1 //' | cut -c1-150
