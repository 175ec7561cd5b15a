# GPU batch 90 (one H200): which of the forward launches' twice-flipped tiles make bf16 faster
# (FLIP_FORWARD_TILES bit masks, FWD_EARLY on as now by default), bf16, fp16 and fp32, at
# (8, 1536, 2048, 16), Mamba / SS2D (all reversed: the reference row); then the selective-scan
# and codegen tests.
source benchmarks/gpu/setup.sh
S=.snap/benchmarks/gpu/selective_loads_sweep.py
for dt in bf16 fp16 fp32; do
  timeout 170 python3 -P $S --dtype $dt --set sites | tee -a $OUT/sites.jsonl
done
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_codegen.py 2>&1 | tee $OUT/tests.log | tail -n 3
