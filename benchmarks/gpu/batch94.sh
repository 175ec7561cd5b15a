# GPU batch 94 (one H200): the closing check of the scan-kernel issue. The kernel and model tests
# on the GPU at its commit, 0f29682 (the device's Triton 3.6: 16-bit selective launches keep their
# flips), then the rest of the suite in what time is left.
source benchmarks/gpu/setup.sh
timeout 330 python3 -P -m pytest -q -p no:cacheprovider tests/kernels tests/models/test_ss2d.py \
  2>&1 | tee $OUT/tests-kernels.log | tail -n 5
timeout 200 python3 -P -m pytest -q -p no:cacheprovider tests/models tests/envs \
  --deselect tests/models/test_ss2d.py 2>&1 | tee $OUT/tests-models-envs.log | tail -n 5
