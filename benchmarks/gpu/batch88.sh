# GPU batch 88 (one H200): the selective scan's tile-load schedule (EARLY_LOADS, FWD_STAGES,
# BWD_STAGES) at (8, 1536, 2048, 16), Mamba / all reversed / SS2D, bf16 then fp32, one process
# each; then the selective tests with EARLY_LOADS on (they also run the schedules' own test).
source benchmarks/gpu/setup.sh
S=.snap/benchmarks/gpu/selective_loads_sweep.py
for dt in bf16 fp32; do timeout 200 python3 -P $S --dtype $dt --set loads | tee -a $OUT/loads.jsonl; done
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  2>&1 | tee $OUT/tests.log | tail -n 3
