# GPU batch 24 (one GPU): the official benchmark at the video shape, worldssm's paths only (batch
# 23's run with peers was cut by its limit inside the compiled associative_scan's fwd+bwd).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 170 python3 -P benchmarks/scan.py --sections video --no-peers --no-jax \
  --out $R/scan-video-own.json > $R/scan-video-own.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep "worldssm" $R/scan-video-own.log | cut -c1-190
