# GPU batch 40 (one GPU): after the host-path trim (no views for (B, T, N) inputs, no same-dtype
# .to()): (1) the linear_scan tests on the GPU, (2) the eager host time per call again (run 25's
# and run 28's scripts).
source benchmarks/gpu/setup.sh
R=/tmp/res40 && mkdir -p $R
cd .snap
timeout 200 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
timeout 60 python3 -P benchmarks/gpu/scan_host_overhead.py --out $R/host.json > $R/host.log 2>&1
timeout 60 python3 -P benchmarks/gpu/backward_thread_cost.py --out $R/bwd-thread.json \
  > $R/bwd-thread.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests-linear-scan.log; head -n 10 $R/host.log | cut -c1-150; cat $R/bwd-thread.log
