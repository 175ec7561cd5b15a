# Ran at commit 8739fcb. The look-back lost to the carry chain at the best tile and was removed
# after this run (results/linear-scan-lookback-h100-run1.json); --lookback no longer exists.
# GPU batch 55 (one GPU): the chunked variant's decoupled look-back (scan_config(lookback=...)).
# (1) the chunked / look-back tests on the GPU (where chunks really race); (2) (B, T, C) at
# B=8, C=1536, T=65536: chunked lane tiles with the carry chain and with the look-back, each
# checked against the default path first, bf16 then fp32 (rows past the budget are skipped).
source benchmarks/gpu/setup.sh
R=/tmp/res55 && mkdir -p $R
cd .snap
timeout 100 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "lookback or chunked" > $R/tests.log 2>&1
timeout 250 python3 -P benchmarks/gpu/lane_cols_sweep.py --lookback --budget 220 \
  --out $R/lookback-sweep.json > $R/lookback-sweep.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep -v "^check" $R/lookback-sweep.log | cut -c1-125
