# GPU batch 39 (one GPU), the session's last check: (1) tmajor_check with the final T-major
# tiles (bf16 time-invariant backward (512, 1, 1)), (2) the video shape, which no change this
# session was meant to touch (the kernels gained constexpr options, off there).
source benchmarks/gpu/setup.sh
R=/tmp/res39 && mkdir -p $R
cd .snap
timeout 80 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 150 python3 -P benchmarks/scan.py --sections video --no-peers --no-jax \
  --out $R/scan-video.json > $R/scan-video.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor.log | grep "T=65536" | cut -c1-130
grep "^check" $R/tmajor.log | grep -v " ok" | cut -c1-200; grep "linear_scan " $R/scan-video.log | cut -c17-160
