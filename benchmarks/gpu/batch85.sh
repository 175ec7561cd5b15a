# GPU batch 85 (one H200): reversed launches load and store increasing positions and flip their
# tiles in registers (this commit) against commit 1c7eefc (carried as .snapold: reversed tiles
# at positions L-1-s, no vector loads). SS2D's layout, the Mamba case all reversed, and the Mamba
# case forward (unchanged code path: should stay at batch 84's 5.9 ms). Then the selective, SS2D
# and VFIMamba tests on the GPU.
source benchmarks/gpu/setup.sh
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snapold/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snapold/$d" "/tmp/pkgold/worldssm/$d"; done
S=.snap/benchmarks/gpu/selective_regress.py
for case in --ss2d --rev ""; do
  timeout 100 python3 -P $S head $case | tee -a $OUT/regress.jsonl
  [ -n "$case" ] && PYTHONPATH=/tmp/pkgold timeout 100 python3 -P $S 1c7eefc $case | tee -a $OUT/regress.jsonl
done
cd .snap && timeout 240 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py tests/kernels/test_selective_codegen.py \
  tests/models/test_ss2d.py tests/models/test_vfimamba.py tests/models/test_vfimamba_fast.py \
  2>&1 | tee $OUT/tests.log | tail -n 3
