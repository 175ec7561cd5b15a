# GPU batch 12 (one H100, ~3 min): the linear_scan variants A/B (benchmarks/gpu/linear_scan_variants.py):
# complex64 as packed int64 words against float32 pairs, bf16 tiles with in-thread scans, chunked
# tiles for bf16 long sequences; old and new kernels checked against each other and timed in one
# process, with the copy bandwidth and accelerated-scan's Triton kernel. Then the kernel tests.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 240 python3 -P benchmarks/gpu/linear_scan_variants.py --out $R/linear_scan_variants.json \
  > $R/linear_scan_variants.log 2>&1
timeout 120 python3 -P -m pytest -q -x -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 40 $R/linear_scan_variants.log
tail -n 4 $R/tests-linear-scan.log
