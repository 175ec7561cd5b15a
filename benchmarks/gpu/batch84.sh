# GPU batch 84 (one H200; prepared, not yet run): SS2D's layout (4 groups, the last two reversed,
# shared u) with one launch per run of same-direction groups (this commit) against one launch for
# all groups (commit 5a9d835, carried as .snapold: every group on the slow, select-positioned
# path). The forward groups' half should run at the plain path's speed (batch 83: 2.1x the
# select path in fwd+bwd); the reversed half stays on the select path. Then the selective tests.
source benchmarks/gpu/setup.sh
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snapold/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snapold/$d" "/tmp/pkgold/worldssm/$d"; done
S=.snap/benchmarks/gpu/selective_regress.py
timeout 100 python3 -P $S head --ss2d | tee $OUT/regress.jsonl
PYTHONPATH=/tmp/pkgold timeout 100 python3 -P $S 5a9d835 --ss2d | tee -a $OUT/regress.jsonl
timeout 100 python3 -P $S head | tee -a $OUT/regress.jsonl
cd .snap && timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py tests/models/test_ss2d.py 2>&1 | tee $OUT/tests.log | tail -n 3
