# GPU batch 31 (one GPU; prepared in session 7, not yet run): (1) every kernel test on the GPU
# (batch 30's 130 s limit cut them after 99 of 120 linear-scan tests, before the T-major ones),
# (2) smaller T-major bf16 backward tiles (the gap to accelerated-scan: 6.43 against 5.23 ms
# fwd+bwd at T=65536), (3) the official long-shape run with peers, now with our T-contiguous
# input row ("worldssm triton, T-contiguous input").
source benchmarks/gpu/setup.sh
R=/tmp/res31 && mkdir -p $R
cd .snap
timeout 300 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
timeout 150 python3 -P benchmarks/gpu/tmajor_check.py --sweep 130 --out $R/tmajor-sweep.json \
  > $R/tmajor-sweep.log 2>&1
timeout 140 python3 -P benchmarks/scan.py --sections long --lengths 65536 --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log; tail -n 26 $R/tmajor-sweep.log | cut -c1-160
grep "linear_scan " $R/scan-long.log | cut -c17-175
