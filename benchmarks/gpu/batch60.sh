# GPU batch 60 (one GPU), after the backward's FOLD for lane tiles: (1) every linear-scan test on
# the GPU (batch 58's run was cut by its time limit); (2) tmajor_check at T = 16384, 65536: the
# (B, T, C) default checked against the T-major path and timed beside it and accelerated-scan;
# (3) the bf16 lane-tile sweep at T=65536 again (the backward candidates changed with FOLD).
source benchmarks/gpu/setup.sh
R=/tmp/res60 && mkdir -p $R
cd .snap
timeout 280 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests.log 2>&1
timeout 90 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 100 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 85 --dtypes bf16 \
  --out $R/stages-sweep-65536.json > $R/stages-sweep-65536.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep -v "^check" $R/tmajor.log | grep bf16 | cut -c1-120
grep -c "ok$" $R/tmajor.log; grep FAIL $R/tmajor.log; grep -v "^check" $R/stages-sweep-65536.log | cut -c1-130
