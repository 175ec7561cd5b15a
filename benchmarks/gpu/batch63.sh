# GPU batch 63 (one GPU): the chunked variant with a decoupled look-back (scan_config(lookback=W),
# triton_chain.py) against the strict carry chain and today's picks. (1) the chunked and
# look-back tests on the GPU, where chunks really run at the same time (the interpreter runs
# them one after the other); (2) (B, T, C) at B=8, C=1536, T=65536: lane chunks of 8-32 steps
# with look-back windows 0-8, each checked against the default path first, bf16 then fp32.
source benchmarks/gpu/setup.sh
R=/tmp/res63 && mkdir -p $R
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "lookback or chunked" > $R/tests.log 2>&1
timeout 260 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 250 --dtypes bf16 \
  --out $R/lookback-sweep-bf16.json > $R/lookback-sweep-bf16.log 2>&1
timeout 140 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 130 --dtypes fp32 \
  --out $R/lookback-sweep-fp32.json > $R/lookback-sweep-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep -v "^check" $R/lookback-sweep-*.log | cut -c1-150
