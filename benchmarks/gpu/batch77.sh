# Never run: the H100 kind went away; batches 79-81 ran this on the H200 (runs 53-55).
# GPU batch 77 (one GPU; prepared, not yet run): the long section at T=1024 and 16384 (B=8,
# C=1536) and the video section again, for the current table (benchmarks/README.md "Current
# figures"), now that accelerated-scan's scalar backward runs with slack after its states
# (bench_peers.scalar_scan_with_slack: batches 74 and 76 died of its out-of-bounds read).
# accelerated-scan's CUDA kernel is a torch extension built at first import (load_inline,
# ninja): batch 75 killed that build at its 150 s timeout, and the lock file it left made the
# next process wait until its own timeout. So it is built once first, with room, and a stale
# lock is removed.
source benchmarks/gpu/setup.sh
R=/tmp/res77 && mkdir -p $R
timeout 300 python3 -c "import accelerated_scan.warp" > $R/warp-build.log 2>&1
echo "warp build rc $? at ${SECONDS}s"
rm -f ~/.cache/torch_extensions/*/warpscan/lock
cd .snap
for job in "long 1024 float32" "long 1024 bfloat16" "long 16384 float32" "long 16384 bfloat16" \
           "video 0 bfloat16" "video 0 float32"; do
  set -- $job
  left=$((540 - SECONDS)); [ $left -gt 40 ] || break
  name=scan-$1-$2-$3; lengths="--lengths $2"; [ $1 = video ] && lengths=""
  timeout $left python3 -P benchmarks/scan.py --sections $1 $lengths --long-batch 8 \
    --dtypes $3 --no-jax --out $R/$name.json > $R/$name.log 2>&1
  echo "$name rc $? at ${SECONDS}s"
done
# The selective-scan kernels moved to triton_kernels.py and share two jit helpers now (same PTX
# opcode counts, Triton 3.8 sm_90, checked on CPU): their tests on the GPU, if time is left.
left=$((585 - SECONDS))
[ $left -gt 60 ] && timeout $left python3 -P -m pytest -q -p no:cacheprovider \
  tests/kernels/test_selective_scan.py tests/kernels/test_selective_scan_seq.py > $R/tests-selective.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests-selective.log
grep -h "^linear_scan" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-150
