# GPU batch 89 (one H200): does the reversed launches' code (tile flips) or their direction
# through memory make bf16 reversed launches faster than forward ones? FLIP_FORWARD_TILES (forward
# launches flip every tile twice) and FWD_EARLY (early loads in the forward kernel only) at
# (8, 1536, 2048, 16), Mamba / all reversed / SS2D, bf16 then fp32, one process each; then the
# selective-scan and codegen tests.
source benchmarks/gpu/setup.sh
S=.snap/benchmarks/gpu/selective_loads_sweep.py
for dt in bf16 fp32; do timeout 200 python3 -P $S --dtype $dt --set flips | tee -a $OUT/flips.jsonl; done
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_codegen.py 2>&1 | tee $OUT/tests.log | tail -n 3
