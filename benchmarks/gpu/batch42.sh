# GPU batch 42 (one GPU): (1) the T-major kernel at T = 1024 and 4096 against our (B, T, C) path
# and accelerated-scan (to set T_MAJOR_MIN_T, now 4096: below it a (B, C, T) input is copied);
# (2) the bf16 (B, T, C) lane tiles at T = 1024 and 4096 (NARROW_LANE starts at 16384); (3) the
# eager host cost after commit 3534408 (inputs flattened inside the autograd Function); (4) the
# kernel tests on the GPU (3534408 and f495a23 have only run under the interpreter).
source benchmarks/gpu/setup.sh
R=/tmp/res42 && mkdir -p $R
cd .snap
timeout 90 python3 -P benchmarks/gpu/tmajor_check.py --lengths 1024,4096 --out $R/tmajor.json \
  > $R/tmajor.log 2>&1
timeout 100 python3 -P benchmarks/gpu/lane_cols_sweep.py --lengths 1024,4096 --dtypes bf16 \
  --budget 80 --out $R/lane.json > $R/lane.log 2>&1
timeout 40 python3 -P benchmarks/gpu/scan_host_overhead.py --out $R/host.json > $R/host.log 2>&1
timeout 40 python3 -P benchmarks/gpu/backward_thread_cost.py --out $R/bwd-thread.json \
  > $R/bwd-thread.log 2>&1
timeout 250 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log; grep -v "^check" $R/tmajor.log | cut -c1-120
cut -c1-130 $R/lane.log; head -n 10 $R/host.log | cut -c1-150; cat $R/bwd-thread.log
