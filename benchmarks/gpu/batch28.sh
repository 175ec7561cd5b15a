# GPU batch 28 (one GPU): (1) host time per linear_scan call (eager) and where it goes, (2) the
# T-major layout (branch t-major-layout, merged) checked and timed against the (B, T, C) path and
# accelerated-scan's Triton kernel at B=8, C=1536, T=16384/65536, (3) the official video run with
# CUDA-graph timing and an eager-timed copy bandwidth (run 18's copy bandwidth was graph-timed).
source benchmarks/gpu/setup.sh
R=/tmp/res28 && mkdir -p $R
cd .snap
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  tests/kernels/test_bench_timing.py > $R/tests-scan.log 2>&1
timeout 45 python3 -P benchmarks/gpu/scan_host_overhead.py --out $R/host.json > $R/host.log 2>&1
timeout 200 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 170 python3 -P benchmarks/scan.py --sections video --no-peers --no-jax \
  --out $R/scan-video.json > $R/scan-video.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-scan.log; grep "per call" $R/host.log; grep -A14 "tottime" $R/host.log | cut -c1-150
tail -n 40 $R/tmajor.log | cut -c1-170
grep "linear_scan " $R/scan-video.log | cut -c1-175
