# GPU batch 25 (one GPU): bf16 with a time-invariant a at the video shape, backward tiles without
# prefetch around batch 22's (4, 256, 1) (the official run gave 79.0% fwd+bwd, target 80%).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 150 python3 -P benchmarks/gpu/linear_scan_variants.py --bwd-sweep --budget 120 \
  --out $R/lsv-bwd.json > $R/lsv-bwd.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/lsv-bwd.log | tail -n 20; grep -c FAIL $R/lsv-bwd.log
