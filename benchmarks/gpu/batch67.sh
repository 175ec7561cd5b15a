# GPU batch 67 (one GPU): (1) every linear-scan test on the GPU with the look-back defaults;
# (2) batch 66's benchmark at T=16384 (B=1, C=1536), which died in the peer's bf16 CUDA kernel
# (now skipped there).
source benchmarks/gpu/setup.sh
R=/tmp/res67 && mkdir -p $R
cd .snap
timeout 280 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests.log 2>&1
timeout 150 python3 -P benchmarks/scan.py --sections long --long-batch 1 --lengths 16384 \
  --dtypes bfloat16,float32 --no-jax --out $R/scan-long-b1-16384.json > $R/scan-long-b1-16384.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep "^linear_scan" $R/scan-long-b1-16384.log | cut -c1-150
