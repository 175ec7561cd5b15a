# GPU batch 50 (one GPU): the linear_scan tests after the _edge_row rename (the last kernel
# change of the session; PTX histograms were unchanged under triton 3.6 locally).
source benchmarks/gpu/setup.sh
R=/tmp/res50 && mkdir -p $R
cd .snap
timeout 300 python3 -P -m pytest -q -p no:cacheprovider tests/kernels > $R/tests-kernels.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-kernels.log
