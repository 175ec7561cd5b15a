# GPU batch 73 (one GPU; prepared, not yet run): the official scan benchmark's 'long' section at
# T=65536, B=8 and B=1, C=1536, with the new peer row "accelerated-scan scalar (triton), from
# (B, T, C) data": the peer's kernel behind the transposes a user with linear_scan's layout
# would need (bench_peers.from_btc). The (B, T, C) rows have so far been compared with the peer
# on its own (B, C, T) data only. Also the defaults of runs 46-49 at B=8 under this benchmark.
source benchmarks/gpu/setup.sh
R=/tmp/res73 && mkdir -p $R
cd .snap
for bsz in 8 1; do
  timeout 270 python3 -P benchmarks/scan.py --sections long --long-batch $bsz --lengths 65536 \
    --dtypes bfloat16,float32 --no-jax --out $R/scan-long-b$bsz.json > $R/scan-long-b$bsz.log 2>&1
done
tar czf $OUT/results.tgz -C $R .
grep -h "^linear_scan" $R/scan-long-b*.log | cut -c1-170
