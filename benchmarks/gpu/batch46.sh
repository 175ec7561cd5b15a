# GPU batch 46 (one GPU): (1) every kernel test on the GPU after the shift_rows defaults
# (batch 45's run of the T-major subset was cut by its time limit); (2) the video shape, every
# dtype and kind of a, to check that it did not move (run 29: 93-96%).
source benchmarks/gpu/setup.sh
R=/tmp/res46 && mkdir -p $R
cd .snap
timeout 330 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
timeout 200 python3 -P benchmarks/scan.py --sections video --no-jax --no-peers \
  --out $R/scan-video.json > $R/scan-video.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log; grep "^linear_scan " $R/scan-video.log | cut -c17-190
