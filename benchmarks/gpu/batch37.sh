# GPU batch 37 (one GPU): the T-major backward now scans with rev_scan by default (tiles from
# batch 36's sweep). (1) every kernel test on the GPU, (2) tmajor_check: checks and timings of
# (B, T, C), T-major and accelerated-scan, (3) the official long-shape benchmark at T=65536
# with every peer.
source benchmarks/gpu/setup.sh
R=/tmp/res37 && mkdir -p $R
cd .snap
timeout 270 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
timeout 80 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 190 python3 -P benchmarks/scan.py --sections long --lengths 65536 --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log; grep -v "^check" $R/tmajor.log | cut -c1-130
grep "^check" $R/tmajor.log | grep -v " ok" | cut -c1-200; grep "linear_scan " $R/scan-long.log | cut -c17-160
