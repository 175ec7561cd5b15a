# GPU batch 83 (one H200): the selective scan with contiguous tile positions again where no group
# is reversed (ANY_REV, SHARED_U constexprs): fwd+bwd timed as in batch 82, then the selective
# tests on the GPU.
source benchmarks/gpu/setup.sh
cd .snap
timeout 100 python3 -P benchmarks/gpu/selective_regress.py head | tee $OUT/regress.jsonl
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py 2>&1 | tee $OUT/tests-selective.log | tail -n 3
