# GPU batch 80 (one H200, nvidia-h200): the official scan benchmark at today's defaults on this
# card, one process a job so that a crash in a peer loses one job only: video (bf16, then fp32 with
# complex64), then B=8, C=1536 at T=65536, 16384, 1024 per dtype, every peer (accelerated-scan
# Triton with slack and CUDA, compiled associative_scan, loop). accelerated-scan's CUDA extension
# was built in batch 79 and travels as .warp-ext/warp-ext.tgz (unpacked into the torch extension
# cache; the build step below then only checks it). Batch 81 takes what is left.
source benchmarks/gpu/setup.sh
R=/tmp/res80 && mkdir -p $R ~/.cache
[ -f .warp-ext/warp-ext.tgz ] && tar xzf .warp-ext/warp-ext.tgz -C ~/.cache
timeout 300 python3 -c "import accelerated_scan.warp" > $R/warp-build.log 2>&1
echo "warp import rc $? at ${SECONDS}s"
rm -f ~/.cache/torch_extensions/*/warpscan/lock
cd .snap
for job in "video 0 bfloat16" "video 0 float32" "long 65536 bfloat16" "long 65536 float32" \
           "long 16384 bfloat16" "long 16384 float32" "long 1024 bfloat16" "long 1024 float32"; do
  set -- $job
  left=$((560 - SECONDS)); [ $left -gt 40 ] || break
  name=scan-$1-$2-$3; lengths="--lengths $2"; [ $1 = video ] && lengths=""
  timeout $left python3 -P benchmarks/scan.py --sections $1 $lengths --long-batch 8 \
    --dtypes $3 --no-jax --out $R/$name.json > $R/$name.log 2>&1
  echo "$name rc $? at ${SECONDS}s"
done
tar czf $OUT/results.tgz -C $R .
grep -h "^linear_scan" $R/scan-*.log | grep -v "(single)\|(chunked)" | cut -c1-20,60-150
