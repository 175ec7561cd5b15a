# GPU batch 32 (one GPU): (1) sweep of the one-column-a-lane tiles of the (B, T, C) layout
# (scan_config(lane_cols=True); bf16 there ran at 40-55% of copy bandwidth, as slow as fp32),
# (2) smaller T-major bf16 backward tiles (batch 31's sweep, never run), (3) the GPU tests of the
# new tiles and of the T-major layout.
source benchmarks/gpu/setup.sh
R=/tmp/res32 && mkdir -p $R
cd .snap
timeout 290 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 250 --out $R/lane-sweep.json \
  > $R/lane-sweep.log 2>&1
timeout 165 python3 -P benchmarks/gpu/tmajor_check.py --sweep 130 --out $R/tmajor-sweep.json \
  > $R/tmajor-sweep.log 2>&1
timeout 110 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "lane_cols or t_major" > $R/tests-lane-tmajor.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-lane-tmajor.log; cut -c1-150 $R/lane-sweep.log; tail -n 26 $R/tmajor-sweep.log | cut -c1-160
