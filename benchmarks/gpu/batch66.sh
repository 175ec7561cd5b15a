# GPU batch 66 (one GPU): the official scan benchmark's 'long' section at B=1 (1,536 columns),
# where the look-back chunks are now the default (bf16 and fp32), with every peer in the same
# run (accelerated-scan on its own (B, C, T) layout, torch associative_scan compiled, the loop).
source benchmarks/gpu/setup.sh
R=/tmp/res66 && mkdir -p $R
cd .snap
timeout 520 python3 -P benchmarks/scan.py --sections long --long-batch 1 --lengths 65536,16384 \
  --dtypes bfloat16,float32 --no-jax --out $R/scan-long-b1.json > $R/scan-long-b1.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 60 $R/scan-long-b1.log | cut -c1-160
