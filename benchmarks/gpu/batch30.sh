# GPU batch 30 (one GPU): after restoring the default layout's kernel code (STRIDED constexpr),
# tuned T-major tiles and automatic T-major: (1) the scan GPU tests, (2) tmajor_check (checks,
# da against float64 at T=16384, timings with the new tiles), (3) the default path at T=65536,
# fp32 and bf16 (batch 29's "before" figures are the target).
source benchmarks/gpu/setup.sh
R=/tmp/res30 && mkdir -p $R
cd .snap
timeout 130 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  tests/kernels/test_bench_timing.py > $R/tests-scan.log 2>&1
timeout 110 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 100 python3 -P benchmarks/scan.py --sections long --lengths 65536 --no-peers --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-scan.log; grep -v "^check" $R/tmajor.log | cut -c1-150; grep "^check" $R/tmajor.log | cut -c1-200
grep "linear_scan " $R/scan-long.log | cut -c17-160
