# GPU batch 58 (one GPU), after batch 57's picks (bf16 (B, T, C) lane tiles: pipelined single
# passes from 6,144 columns on, NARROW_LANE): (1) tmajor_check at T = 16384, 65536 and at 1024:
# our (B, T, C) default checked against the T-major path (h, final state, grads) and timed beside
# it and accelerated-scan; (2) the linear-scan tests on the GPU; (3) the official long benchmark
# at T=1024, bf16, with every peer (the peer's CUDA extension builds first, about 2 minutes).
source benchmarks/gpu/setup.sh
R=/tmp/res58 && mkdir -p $R
cd .snap
timeout 90 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 45 python3 -P benchmarks/gpu/tmajor_check.py --lengths 1024 --out $R/tmajor-1024.json \
  > $R/tmajor-1024.log 2>&1
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests.log 2>&1
timeout 240 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes bfloat16 \
  --no-jax --out $R/scan-long-1024-bf16.json > $R/scan-long-1024-bf16.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor.log $R/tmajor-1024.log | cut -c1-150; grep -c "ok$" $R/tmajor*.log
grep FAIL $R/tmajor*.log; tail -n 3 $R/tests.log
grep "^linear_scan " $R/scan-long-1024-bf16.log | cut -c40-200; tail -n 2 $R/scan-long-1024-bf16.log | cut -c1-300
