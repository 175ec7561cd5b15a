# GPU batch 81 (one H200, nvidia-h200): what batch 80 left. First the selective-scan tests on
# the GPU (its kernels moved to triton_kernels.py with two shared jit helpers: same PTX opcode
# counts on CPU, never run on a GPU). Then T=16384 fp32 again (batch 80 lost its time-invariant
# rows to the compiled peer's backward compile, now skipped past T=4096), T=1024 per dtype, the
# selective section, B=1 at T=65536 per dtype, and jax's associative_scan.
source benchmarks/gpu/setup.sh
R=/tmp/res81 && mkdir -p $R ~/.cache
[ -f .warp-ext/warp-ext.tgz ] && tar xzf .warp-ext/warp-ext.tgz -C ~/.cache
timeout 200 python3 -c "import accelerated_scan.warp" > $R/warp-build.log 2>&1
echo "warp import rc $? at ${SECONDS}s"
rm -f ~/.cache/torch_extensions/*/warpscan/lock
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan.py \
  tests/kernels/test_selective_scan_seq.py > $R/tests-selective.log 2>&1
echo "selective tests rc $? at ${SECONDS}s"
for job in "long 16384 float32 8" "long 1024 bfloat16 8" "long 1024 float32 8" \
           "selective 0 float32,bfloat16 8" "long 65536 bfloat16 1" "long 65536 float32 1" \
           "jax 0 float32 8"; do
  set -- $job
  left=$((555 - SECONDS)); [ $left -gt 40 ] || break
  name=scan-$1-$2-$3-b$4; lengths="--lengths $2"; [ $2 = 0 ] && lengths=""
  jax="--no-jax"; [ $1 = jax ] && jax=""
  timeout $left python3 -P benchmarks/scan.py --sections $1 $lengths --long-batch $4 \
    --dtypes $3 $jax --out $R/$name.json > $R/$name.log 2>&1
  echo "$name rc $? at ${SECONDS}s"
done
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests-selective.log
grep -h "^linear_scan\|^selective\|jax" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-150
