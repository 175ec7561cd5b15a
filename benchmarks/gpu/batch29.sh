# GPU batch 29 (one GPU): (1) A/B of the default (B, T, C) path before and after the T-major
# merge (commit c3cddb5 in .snap_old against HEAD in .snap), long shapes T=65536, fp32 and bf16:
# batch 28's tmajor_check timed it 20% faster (bf16 tv fwd) and 20% slower (bf16 ti fwd) than
# run 18's scan.py, (2) a sweep of T-major bf16 tiles (forward, backward, prefetch).
source benchmarks/gpu/setup.sh
R=/tmp/res29 && mkdir -p $R
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snap_old/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snap_old/$d" "/tmp/pkgold/worldssm/$d"; done
(cd .snap_old && PYTHONPATH=/tmp/pkgold timeout 110 python3 -P benchmarks/scan.py --sections long \
  --lengths 65536 --no-peers --no-jax --out $R/scan-long-old.json > $R/scan-long-old.log 2>&1)
(cd .snap && timeout 110 python3 -P benchmarks/scan.py --sections long --lengths 65536 \
  --no-peers --no-jax --out $R/scan-long-new.json > $R/scan-long-new.log 2>&1)
(cd .snap && timeout 170 python3 -P benchmarks/gpu/tmajor_check.py --sweep 150 \
  --out $R/tmajor-sweep.json > $R/tmajor-sweep.log 2>&1)
tar czf $OUT/results.tgz -C $R .
for f in old new; do echo "== $f"; grep "linear_scan " $R/scan-long-$f.log | cut -c17-160; done
cat $R/tmajor-sweep.log | cut -c1-170 | tail -n 45
