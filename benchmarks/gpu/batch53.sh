# GPU batch 53 (one GPU), with the register-groups T-major backward on by default: (1) every
# kernel test on the GPU; (2) the official long benchmark at T=1024 with every peer, bf16 then
# fp32, each in its own process (accelerated-scan's backward reads past its states tensor at
# this length and may kill the process).
source benchmarks/gpu/setup.sh
R=/tmp/res53 && mkdir -p $R
cd .snap
timeout 300 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
timeout 130 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes bfloat16 \
  --no-jax --out $R/scan-long-1024-bf16.json > $R/scan-long-1024-bf16.log 2>&1
timeout 110 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes float32 \
  --no-jax --out $R/scan-long-1024-fp32.json > $R/scan-long-1024-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log
grep "^linear_scan " $R/scan-long-1024-*.log | cut -c40-200; tail -n 2 $R/scan-long-1024-*.log
