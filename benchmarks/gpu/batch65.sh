# GPU batch 65 (one GPU): the look-back picks near their thresholds and at shorter T. Defaults
# are now NARROW_LANE_FEW's look-back chunks for bf16 below 6,144 columns and fp32 below 3,072
# (F32_LANE_BELOW_COLUMNS); each row checked against the default path first. (1) fp32 at 3,072
# and 6,144 columns, T=65536; (2) bf16 at 4,608 and 6,144 columns; (3) B=1, C=1536 at
# T=1024 and 16384, bf16 and fp32, against the strict chain and the NARROW tiles.
source benchmarks/gpu/setup.sh
R=/tmp/res65 && mkdir -p $R
cd .snap
M='^(default|lane_cols off)$|\(32, 64, 1\) pf=False stages=1 lookback=(0|2)$'
S="python3 -P benchmarks/gpu/lane_cols_sweep.py"
timeout 120 $S --budget 110 --dtypes fp32 --shapes 2x1536,4x1536 --match "$M" \
  --out $R/near-fp32.json > $R/near-fp32.log 2>&1
timeout 120 $S --budget 110 --dtypes bf16 --shapes 3x1536,4x1536 --match "$M" \
  --out $R/near-bf16.json > $R/near-bf16.log 2>&1
timeout 150 $S --budget 140 --dtypes bf16,fp32 --shapes 1x1536 --lengths 1024,16384 --match "$M" \
  --out $R/short.json > $R/short.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/*.log | sed 's/pf=False stages=1 //;s/^.tmp.res65.//' | cut -c1-130
