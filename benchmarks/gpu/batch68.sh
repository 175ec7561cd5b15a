# GPU batch 68 (one GPU; prepared, not yet run): chunks of several tiles (scan_config(
# chunk_tiles=K), off by default). A one-warp chunk program cost about 6-9 ns whatever the
# look-back window (batches 63-64), so fewer, longer chunks may help: each program scans its K
# tiles for the chunk's aggregate, takes the carry, then reads them again (from L2 if recent).
# (1) the chunked tests on the GPU; (2) (B, T, C) at T=65536, B=1, 2 and 8, C=1536, bf16 and
# fp32, each row checked against the default path first.
source benchmarks/gpu/setup.sh
R=/tmp/res68 && mkdir -p $R
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "lookback or chunked or chunk_tiles" > $R/tests.log 2>&1
S="python3 -P benchmarks/gpu/lane_cols_sweep.py"
timeout 200 $S --budget 190 --dtypes bf16 --shapes 1x1536,2x1536,8x1536 \
  --out $R/chunk-tiles-bf16.json > $R/chunk-tiles-bf16.log 2>&1
timeout 150 $S --budget 140 --dtypes fp32 --shapes 1x1536,2x1536 \
  --out $R/chunk-tiles-fp32.json > $R/chunk-tiles-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep -v "^check" $R/chunk-tiles-*.log | sed 's/pf=False stages=1 //' | cut -c1-150
