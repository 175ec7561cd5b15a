# GPU batch 10 (one H100): VFIMamba-S speed after SS2D scans bf16 tokens in float32 at inference;
# the reference path in the same run as the peer, then a profile of the fast bf16 path.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 240 python3 -P benchmarks/vfi_speed.py --models vfimamba_s --res 720p,1080p,4k \
  --paths reference,fast --cuda-graph --seconds 1.5 --repeats 10 --out $R/vfi-speed.json \
  > $R/vfi-speed.log 2>&1
timeout 100 python3 -P benchmarks/profile_ops.py vfi --res 1080p --precision bf16 --fast \
  --steps 10 --out $R/prof-vfi-fast-bf16.json > $R/prof-vfi-fast-bf16.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/*.log
