# GPU batch 23 (one GPU): the new linear_scan defaults (batch 22 picks: prefetching tiles for bf16
# with a time-invariant a and for the long, narrow shapes; forced backward configs now honoured).
# The kernel tests on CUDA, then the official benchmark at the video and long shapes.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels -x > $R/tests-kernels.log 2>&1
timeout 130 python3 -P benchmarks/scan.py --sections video --no-jax --out $R/scan-video.json \
  > $R/scan-video.log 2>&1
timeout 230 python3 -P benchmarks/scan.py --sections long --lengths 65536,16384 --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests-kernels.log; tail -n 30 $R/scan-video.log; tail -n 40 $R/scan-long.log
