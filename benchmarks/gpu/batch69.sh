# GPU batch 69 (one GPU): the chunk_tiles defaults of batch 68 (NARROW_LANE_FEW, _F32) checked
# where they were not measured: shorter T (CHUNK_TILES_MIN_CHUNKS, a guess), B=4 (the backward
# keeps chunks up to 8,192 columns), B=1 with C=256; then the default rows at T=65536 and the
# official scan.py at B=1 against accelerated-scan (the chunk tests ran in batch 68).
source benchmarks/gpu/setup.sh
R=/tmp/res69 && mkdir -p $R
cd .snap
S="python3 -P benchmarks/gpu/lane_cols_sweep.py"
timeout 130 $S --budget 120 --dtypes bf16,fp32 --shapes 1x1536,2x1536 --lengths 1024,4096,16384 \
  --out $R/short.json > $R/short.log 2>&1
timeout 90 $S --budget 80 --dtypes bf16 --shapes 4x1536,1x256 --match "default|off|chunk_tiles=[18]" \
  --out $R/near.json > $R/near.log 2>&1
timeout 60 $S --budget 50 --dtypes bf16,fp32 --shapes 1x1536,2x1536 --match "default|off" \
  --out $R/defaults.json > $R/defaults.log 2>&1
timeout 240 python3 -P benchmarks/scan.py --sections long --long-batch 1 --lengths 65536 \
  --dtypes bfloat16,float32 --no-jax --out $R/scan-long-b1.json > $R/scan.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -hv "^check" $R/short.log $R/near.log $R/defaults.log | sed 's/pf=False stages=1 //;s/lookback=2 //' | cut -c1-110
grep "^linear_scan" $R/scan.log | cut -c1-150
