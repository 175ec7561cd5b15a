# GPU batch 21 (one GPU): why the bf16 backward with a time-invariant a is slow at the video
# shape: ptxas facts of the candidate tiles under the device's Triton, then per-kernel times.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 120 python3 -P benchmarks/gpu/ptx_stats.py bwd,bf16,1,32,128,1,0 bwd,bf16,1,1,256,1,1 \
  bwd,bf16,1,2,256,1,1 bwd,bf16,1,4,256,1,1 bwd,bf16,1,2,512,2,1 bwd,bf16,1,1,512,2,1 \
  bwd,bf16,0,16,256,2,0 fwd,bf16,1,8,256,1,1 bwd,fp32,1,16,256,2,0 > $R/ptx.log 2>&1
timeout 300 python3 -P benchmarks/gpu/scan_bwd_profile.py --cases "bf16 a ti" --budget 240 \
  --out $R/bwd-profile.json > $R/bwd-profile.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^ " $R/ptx.log; grep -v "^check" $R/bwd-profile.log | grep -v "Activity\|reduce_kernel\|copy_kernel" | tail -60
