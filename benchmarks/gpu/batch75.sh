# GPU batch 75 (one GPU): batch 74's long section again, one process per (T, dtype): there
# accelerated-scan killed both processes with an illegal memory access (its Triton backward at
# T=1024, bf16, which reads past its states tensor when T is not a multiple of 2048; its CUDA
# forward at T=16384, bf16, now skipped). A process that dies is run once more.
source benchmarks/gpu/setup.sh
R=/tmp/res75 && mkdir -p $R
cd .snap
for len in 1024 16384; do
  for dt in float32 bfloat16; do
    for try in 1 2; do
      left=$((500 - SECONDS)); [ $left -gt 150 ] && left=150
      [ $left -gt 30 ] || break 3
      timeout $left python3 -P benchmarks/scan.py --sections long --lengths $len --long-batch 8 \
        --dtypes $dt --no-jax --out $R/scan-long-$len-$dt.json > $R/scan-long-$len-$dt-try$try.log 2>&1 \
        && break
    done
    echo "T=$len $dt: try $try done at ${SECONDS}s"
  done
done
tar czf $OUT/results.tgz -C $R .
grep -h "^linear_scan" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-150
