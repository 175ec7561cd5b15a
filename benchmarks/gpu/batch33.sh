# GPU batch 33 (one GPU): (1) the lane_cols sweep again, now with runs of >= 2 columns a lane
# (batch 32's runs of 1 put the lanes along T under the box's Triton 3.6: uncoalesced),
# (2) T-major bf16 backward tiles of 16-128 steps (batch 32: (64, 1, 1) with prefetch won, now
# the default), (3) every linear_scan test on the GPU.
source benchmarks/gpu/setup.sh
R=/tmp/res33 && mkdir -p $R
cd .snap
timeout 190 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 150 --out $R/lane-sweep.json \
  > $R/lane-sweep.log 2>&1
timeout 100 python3 -P benchmarks/gpu/tmajor_check.py --sweep 60 --out $R/tmajor-sweep.json \
  > $R/tmajor-sweep.log 2>&1
timeout 250 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-linear-scan.log; cut -c1-150 $R/lane-sweep.log; tail -n 12 $R/tmajor-sweep.log | cut -c1-160
