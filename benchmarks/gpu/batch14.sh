# GPU batch 14 (one GPU): triton_seq with a one-step prefetch and float32 B/C rows (sweep
# against the tiled forward, same run), its CUDA tests, VFIMamba-S fast-path speed with each
# inference kernel, then helper's linear_scan A/B (benchmarks/gpu/linear_scan_variants.py).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 150 python3 -P benchmarks/gpu/seq_sweep.py --out $R/seq-sweep.json > $R/seq-sweep.log 2>&1
CFG=$(python3 benchmarks/gpu/pick_seq.py $R/seq-sweep.json torch.bfloat16 || echo 32,1,0)
echo "picked $CFG" | tee -a $R/seq-sweep.log
timeout 90 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan_seq.py \
  tests/models/test_ss2d.py tests/models/test_vfimamba_fast.py > $R/tests.log 2>&1
for K in tile seq; do
  timeout 60 python3 -P benchmarks/vfi_speed.py --models vfimamba_s --res 720p,1080p,4k \
    --precisions bf16 --paths fast --cuda-graph --seconds 1.0 --repeats 10 --infer-kernel $K \
    --seq-config $CFG --out $R/vfi-speed-$K.json > $R/vfi-speed-$K.log 2>&1
done
timeout 170 python3 -P benchmarks/gpu/linear_scan_variants.py --out $R/linear_scan_variants.json \
  > $R/linear_scan_variants.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests.log; grep BEST $R/seq-sweep.log; grep -h '"1080p"' $R/vfi-speed-*.log | cut -c1-400
tail -n 25 $R/linear_scan_variants.log
