# GPU batch 41 (one GPU): the official long-shape benchmark at T = 1024 and 16384 with every
# peer (graph timing; T=1024 last ran with eager timing, and run 24 was cut before the bf16
# T=16384 rows).
source benchmarks/gpu/setup.sh
R=/tmp/res41 && mkdir -p $R
cd .snap
timeout 290 python3 -P benchmarks/scan.py --sections long --lengths 1024,16384 --no-jax \
  --out $R/scan-long.json > $R/scan-long.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep "linear_scan " $R/scan-long.log | cut -c17-175
