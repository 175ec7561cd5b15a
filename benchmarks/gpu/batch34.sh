# GPU batch 34 (one GPU): the lane_cols tiles are now the default for bf16 / fp16 scans of few
# columns with T >= 16384 (triton_tiles.NARROW_LANE, from batch 33's sweep). (1) tmajor_check:
# checks and timings of (B, T, C), T-major and accelerated-scan at T = 16384 and 65536, (2) the
# official long-shape benchmark with every peer, (3) the lane sweep at T=16384 (is the threshold
# right?), (4) T-major fp32 tiles (the fp32 defaults were first guesses).
source benchmarks/gpu/setup.sh
R=/tmp/res34 && mkdir -p $R
cd .snap
timeout 130 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 230 python3 -P benchmarks/scan.py --sections long --lengths 65536,16384 --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
timeout 70 python3 -P benchmarks/gpu/lane_cols_sweep.py --lengths 16384 --dtypes bf16 \
  --budget 40 --out $R/lane-sweep-16384.json > $R/lane-sweep-16384.log 2>&1
timeout 100 python3 -P benchmarks/gpu/tmajor_check.py --sweep 65 --sweep-dtype fp32 \
  --out $R/tmajor-sweep-fp32.json > $R/tmajor-sweep-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor.log | cut -c1-150; grep "^check" $R/tmajor.log | grep -v ok | cut -c1-200
grep "linear_scan " $R/scan-long.log | cut -c17-175; cut -c1-150 $R/lane-sweep-16384.log
tail -n 14 $R/tmajor-sweep-fp32.log | cut -c1-160
