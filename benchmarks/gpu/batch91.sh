# GPU batch 91 (one H200): today's selective-scan defaults (FWD_EARLY; 16-bit forward launches
# flip their (D, L) input tiles twice) against commit 1283b9f's (run 61, carried as .snapold) in
# the three selective_regress cases; mask 0 against 2 in bf16 at two more shapes; then the
# selective, SS2D, VFIMamba and codegen tests on the GPU, from the repo root.
source benchmarks/gpu/setup.sh
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snapold/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snapold/$d" "/tmp/pkgold/worldssm/$d"; done
S=.snap/benchmarks/gpu/selective_regress.py
for case in "" --rev --ss2d; do
  timeout 100 python3 -P $S head $case | tee -a $OUT/regress.jsonl
  PYTHONPATH=/tmp/pkgold timeout 100 python3 -P $S 1283b9f $case | tee -a $OUT/regress.jsonl
done
for shape in 16,1024,2048 4,1536,1000; do
  timeout 100 python3 -P .snap/benchmarks/gpu/selective_loads_sweep.py --dtype bf16 --set mask2 \
    --shape $shape | tee -a $OUT/mask2.jsonl
done
timeout 240 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py tests/kernels/test_selective_codegen.py \
  tests/models/test_ss2d.py tests/models/test_vfimamba.py tests/models/test_vfimamba_fast.py \
  2>&1 | tee $OUT/tests.log | tail -n 3
