# GPU batch 18 (one GPU): the official scan benchmark at the video shape with the new defaults
# (packed complex64 + backward prefetch), no peers (their figures are in scan-h100*.json), then
# the kernel tests on CUDA.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 200 python3 -P benchmarks/scan.py --sections video --no-peers --no-jax \
  --out $R/scan-video.json > $R/scan-video.log 2>&1
timeout 200 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 30 $R/scan-video.log; tail -n 3 $R/tests-kernels.log
