# GPU batch 27 (one GPU): the scan benchmarks now time CUDA-graph replays (kernels/bench_timing.py;
# batch 26's eager calls timed one 0.22 ms forward at 0.22-0.56 ms in one process). (1) the timer's
# GPU tests, (2) bf16 backward tiles (time-invariant a, video shape) +- prefetch, (3) the official
# video run with peers, (4) bf16 long shapes with peers, (5) video, ours only, eager calls, to show
# what the host's launch overhead adds in this run.
source benchmarks/gpu/setup.sh
R=/tmp/res27 && mkdir -p $R
cd .snap
timeout 90 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_bench_timing.py \
  > $R/tests-timing.log 2>&1
timeout 120 python3 -P benchmarks/gpu/linear_scan_variants.py --bwd-sweep --budget 90 \
  --out $R/lsv-bwd-graph.json > $R/lsv-bwd-graph.log 2>&1
timeout 170 python3 -P benchmarks/scan.py --sections video --no-jax --out $R/scan-video.json \
  > $R/scan-video.log 2>&1
timeout 200 python3 -P benchmarks/scan.py --sections long --lengths 65536,16384 --dtypes bfloat16 \
  --no-jax --out $R/scan-long-bf16.json > $R/scan-long-bf16.log 2>&1
timeout 80 python3 -P benchmarks/scan.py --sections video --no-peers --no-jax --timing eager \
  --dtypes bfloat16 --out $R/scan-video-eager.json > $R/scan-video-eager.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-timing.log; grep -v "^check" $R/lsv-bwd-graph.log | tail -n 6
grep "linear_scan " $R/scan-video.log | cut -c1-175; grep "linear_scan " $R/scan-long-bf16.log | cut -c1-175
grep "worldssm" $R/scan-video-eager.log | cut -c1-175
