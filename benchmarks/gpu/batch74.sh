# GPU batch 74 (one GPU): the official scan benchmark at today's defaults, for one current table
# (benchmarks/README.md "Current figures"): the video section with every peer, then the long
# section at T=1024 and 16384 (B=8, C=1536) while the call has time left. T=65536 is run 50
# (batch 73). Each process writes its JSON after its section, so a cut-off one loses only itself.
source benchmarks/gpu/setup.sh
R=/tmp/res74 && mkdir -p $R
cd .snap
timeout 330 python3 -P benchmarks/scan.py --sections video --no-jax \
  --out $R/scan-video.json > $R/scan-video.log 2>&1
echo "video done at ${SECONDS}s"
for len in 1024 16384; do
  left=$((560 - SECONDS))
  [ $left -gt 60 ] || break
  timeout $left python3 -P benchmarks/scan.py --sections long --lengths $len --long-batch 8 \
    --dtypes bfloat16,float32 --no-jax --out $R/scan-long-$len.json > $R/scan-long-$len.log 2>&1
  echo "T=$len done at ${SECONDS}s"
done
tar czf $OUT/results.tgz -C $R .
grep -h "^linear_scan" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-150
