# GPU batch 35 (one GPU): after this session's tile changes (lane tiles for narrow bf16, T-major
# bf16 / fp32 tiles): (1) every kernel test on the GPU, (2) tmajor_check with the new fp32
# T-major tiles, (3) the eager host overhead per call, as in run 19.
source benchmarks/gpu/setup.sh
R=/tmp/res35 && mkdir -p $R
cd .snap
timeout 330 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
timeout 100 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 60 python3 -P benchmarks/gpu/scan_host_overhead.py --out $R/host.json > $R/host.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log; grep -v "^check" $R/tmajor.log | cut -c1-130
grep "^check" $R/tmajor.log | grep -v " ok" | cut -c1-200; head -n 30 $R/host.log | cut -c1-150
