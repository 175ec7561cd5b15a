# GPU batch 76 (one GPU): the video section in bf16 with the new peer row "accelerated-scan
# scalar (triton), channels folded into batch" (bench_peers.fold_channels): its grid (B, C) cannot
# take C = 65,536, a user would fold channels into the batch. Its backward may die at T=300 (it
# reads past its states tensor when T is not a multiple of 2048), so it runs in its own process.
source benchmarks/gpu/setup.sh
R=/tmp/res76 && mkdir -p $R
cd .snap
timeout 200 python3 -P benchmarks/scan.py --sections video --dtypes bfloat16 --no-jax \
  --out $R/scan-video-bf16.json > $R/scan-video-bf16.log 2>&1
echo "rc $? at ${SECONDS}s"
tar czf $OUT/results.tgz -C $R .
grep -h "^linear_scan" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-170
