# GPU batch 87 (one H200): the forward's new default tile (2, 32, 1) (this commit) against commit
# 524749b's (4, 32, 4) (carried as .snapold) in the three selective_regress cases, then the
# selective, SS2D and VFIMamba tests on the GPU, run from the repo root (the shipped checkpoint
# is there; batch 85 ran them from the snapshot, which leaves it out).
source benchmarks/gpu/setup.sh
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snapold/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snapold/$d" "/tmp/pkgold/worldssm/$d"; done
S=.snap/benchmarks/gpu/selective_regress.py
for case in "" --rev --ss2d; do
  timeout 100 python3 -P $S head $case | tee -a $OUT/regress.jsonl
  PYTHONPATH=/tmp/pkgold timeout 100 python3 -P $S 524749b $case | tee -a $OUT/regress.jsonl
done
timeout 240 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py tests/models/test_ss2d.py tests/models/test_vfimamba.py \
  tests/models/test_vfimamba_fast.py 2>&1 | tee $OUT/tests.log | tail -n 3
