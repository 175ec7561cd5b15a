# GPU batch 47 (one GPU): the single pass no longer allocates and slices a sync buffer it does
# not use (host time per launch): (1) launch_cost.py, backward_thread_cost.py and
# scan_host_overhead.py again; (2) the linear_scan tests on the GPU.
source benchmarks/gpu/setup.sh
R=/tmp/res47 && mkdir -p $R
cd .snap
timeout 60 python3 -P benchmarks/gpu/launch_cost.py --out $R/launch.json > $R/launch.log 2>&1
timeout 60 python3 -P benchmarks/gpu/backward_thread_cost.py --out $R/bwd-thread.json \
  > $R/bwd-thread.log 2>&1
timeout 60 python3 -P benchmarks/gpu/scan_host_overhead.py --out $R/host.json > $R/host.log 2>&1
timeout 300 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
tar czf $OUT/results.tgz -C $R .
cat $R/launch.log $R/bwd-thread.log; head -n 10 $R/host.log | cut -c1-150
tail -n 2 $R/tests-linear-scan.log
