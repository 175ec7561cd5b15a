# GPU batch 70 (one GPU): (1) every linear-scan test on the GPU with the chunk_tiles defaults;
# (2) the 8,192-column threshold (LANE_SINGLE_MIN_COLUMNS, moved from 6,144 after batch 69):
# bf16 default rows at B=4 and 6 (6,144 and 9,216 columns) beside chunks of 8 tiles; (3) fp32 at
# B=3 and 4 (F32_LANE_BELOW_COLUMNS = 6,144: the NARROW tiles from there), with chunks of 1-8.
source benchmarks/gpu/setup.sh
R=/tmp/res70 && mkdir -p $R
cd .snap
timeout 300 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests.log 2>&1
S="python3 -P benchmarks/gpu/lane_cols_sweep.py"
timeout 80 $S --budget 70 --dtypes bf16 --shapes 4x1536,6x1536 \
  --match "default|\(32, 64, 1\).*chunk_tiles=[18]|\(16, 64, 1\).*chunk_tiles=8" \
  --out $R/threshold-bf16.json > $R/threshold-bf16.log 2>&1
timeout 100 $S --budget 90 --dtypes fp32 --shapes 3x1536,4x1536 --match "default|\(32, 64, 1\)" \
  --out $R/threshold-fp32.json > $R/threshold-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log
grep -hv "^check" $R/threshold-*.log | sed 's/pf=False stages=1 //;s/lookback=2 //;s/lane chunked //' | cut -c1-100
