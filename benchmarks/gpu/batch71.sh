# GPU batch 71 (one GPU): the bf16 backward with a time-invariant a from 8,192 columns on now runs
# look-back chunks of 8 (16, 64, 1) tiles (NARROW_LANE); its default rows at B=6 and 8 (C=1536),
# T=65536 and 1024, beside the (32, 64, 1) 3-stage single pass it replaced.
source benchmarks/gpu/setup.sh
R=/tmp/res71 && mkdir -p $R
cd .snap
timeout 150 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 140 --dtypes bf16 \
  --shapes 6x1536,8x1536 --lengths 65536,1024 --match "default|single" \
  --out $R/bwd-ti.json > $R/bwd-ti.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -hv "^check" $R/bwd-ti.log | sed 's/pf=False //;s/lookback=0 //' | cut -c1-110
