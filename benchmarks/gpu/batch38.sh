# GPU batch 38 (one GPU): (1) where the eager fwd+bwd host time goes when autograd runs the
# backward on its device thread (ours, accelerated-scan, a minimal Triton op, a minimal torch
# op), (2) T-major rev_scan backward tiles of 256-512 steps (bf16, then fp32).
source benchmarks/gpu/setup.sh
R=/tmp/res38 && mkdir -p $R
cd .snap
timeout 60 python3 -P benchmarks/gpu/backward_thread_cost.py --out $R/bwd-thread.json \
  > $R/bwd-thread.log 2>&1
timeout 100 python3 -P benchmarks/gpu/tmajor_check.py --sweep 70 --out $R/sweep-bf16.json \
  > $R/sweep-bf16.log 2>&1
timeout 80 python3 -P benchmarks/gpu/tmajor_check.py --sweep 50 --sweep-dtype fp32 \
  --out $R/sweep-fp32.json > $R/sweep-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
cat $R/bwd-thread.log | cut -c1-200; cut -c1-170 $R/sweep-bf16.log; cut -c1-170 $R/sweep-fp32.log
