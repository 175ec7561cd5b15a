# GPU batch 43 (one GPU): (1) compute-sanitizer memcheck of our kernels (every variant, small
# odd shapes) and, separately, of accelerated-scan's Triton scan (batch 42 died with an illegal
# memory access in the peer's bf16 fwd+bwd at T=1024 right after our T-major run); (2) the
# T-major layout at T = 64, 256 and 1024 (shrunk tiles below 1024) against our (B, T, C) path,
# without the peer; (3) where the eager host time goes (launch_cost.py); (4) the T-major and
# tile-choice kernel tests on the GPU.
source benchmarks/gpu/setup.sh
R=/tmp/res43 && mkdir -p $R
cd .snap
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
echo "compute-sanitizer: $CS"
timeout 200 $CS --tool memcheck --print-limit 20 python3 -P benchmarks/gpu/memcheck_scan.py \
  --which ours > $R/memcheck-ours.log 2>&1; echo "memcheck ours rc=$?" >> $R/memcheck-ours.log
timeout 120 $CS --tool memcheck --print-limit 20 python3 -P benchmarks/gpu/memcheck_scan.py \
  --which peer > $R/memcheck-peer.log 2>&1; echo "memcheck peer rc=$?" >> $R/memcheck-peer.log
timeout 120 python3 -P benchmarks/gpu/tmajor_check.py --lengths 64,256,1024 --no-peer \
  --out $R/tmajor-short.json > $R/tmajor-short.log 2>&1
timeout 60 python3 -P benchmarks/gpu/launch_cost.py --out $R/launch.json > $R/launch.log 2>&1
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "t_major or variant_choice" > $R/tests.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 25 $R/memcheck-ours.log | cut -c1-200; tail -n 12 $R/memcheck-peer.log | cut -c1-200
grep -v "^check" $R/tmajor-short.log | cut -c1-120; grep -c "ok$" $R/tmajor-short.log
cat $R/launch.log; tail -n 2 $R/tests.log
