# GPU batch 20 (one GPU): linear_scan tiles with the one-tile prefetch (scan_config(prefetch=True,
# bwd_prefetch=...)) against the defaults, video and long-narrow shapes, fp32 and bf16, peer accelerated-scan.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 560 python3 -P benchmarks/gpu/linear_scan_variants.py --budget 500 --out $R/lsv.json \
  > $R/lsv.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/lsv.log | tail -n 60; grep -c FAIL $R/lsv.log
