# GPU batch 36 (one GPU): the T-major backward with rev_scan (tiles held in increasing time and
# scanned with tl.associative_scan(reverse=True), no reordering through shared memory):
# (1) the rev_scan and T-major tests on the GPU (reverse=True once gave wrong results on GPUs),
# (2) bf16 and fp32 sweeps of rev_scan tiles beside the current UP defaults.
source benchmarks/gpu/setup.sh
R=/tmp/res36 && mkdir -p $R
cd .snap
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "rev_scan or t_major" > $R/tests-rev.log 2>&1
timeout 130 python3 -P benchmarks/gpu/tmajor_check.py --sweep 95 --out $R/sweep-bf16.json \
  > $R/sweep-bf16.log 2>&1
timeout 110 python3 -P benchmarks/gpu/tmajor_check.py --sweep 75 --sweep-dtype fp32 \
  --out $R/sweep-fp32.json > $R/sweep-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 5 $R/tests-rev.log | cut -c1-300; cut -c1-170 $R/sweep-bf16.log; cut -c1-170 $R/sweep-fp32.log
