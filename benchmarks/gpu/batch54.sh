# GPU batch 54 (one GPU), with the register-groups T-major backward on by default: (1) short T
# (32-256): a (B, C, T) input run T-major against copying it to (B, T, C); (2) the official long
# benchmark at T=1024 with every peer, bf16 then fp32, each in its own process (the peer's CUDA
# extension builds first, about 2 minutes; accelerated-scan's backward reads past its states
# tensor at this length and may kill the process).
source benchmarks/gpu/setup.sh
R=/tmp/res54 && mkdir -p $R
cd .snap
timeout 90 python3 -P benchmarks/gpu/tmajor_check.py --lengths 32,64,128,256 --no-peer --copied \
  --out $R/tmajor-short.json > $R/tmajor-short.log 2>&1
timeout 250 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes bfloat16 \
  --no-jax --out $R/scan-long-1024-bf16.json > $R/scan-long-1024-bf16.log 2>&1
timeout 150 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes float32 \
  --no-jax --out $R/scan-long-1024-fp32.json > $R/scan-long-1024-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor-short.log | grep "fwd+bwd" | cut -c1-110; grep FAIL $R/tmajor-short.log
grep "^linear_scan " $R/scan-long-1024-*.log | cut -c40-200; tail -n 2 $R/scan-long-1024-*.log | cut -c1-300
