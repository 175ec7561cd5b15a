# GPU batch 13 (one GPU): the per-channel sequential inference scan (kernels/selective_scan/
# triton_seq.py) against the tiled forward at the VFIMamba-S 1080p shapes (sweep), its CUDA
# tests, then VFIMamba-S fast-path speed with each inference kernel (same run, same card).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 200 python3 -P benchmarks/gpu/seq_sweep.py --out $R/seq-sweep.json > $R/seq-sweep.log 2>&1
CFG=$(python3 benchmarks/gpu/pick_seq.py $R/seq-sweep.json torch.bfloat16 || echo 128,4,256)
echo "picked $CFG" | tee -a $R/seq-sweep.log
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_selective_scan_seq.py \
  tests/kernels/test_selective_scan.py tests/models/test_ss2d.py tests/models/test_vfimamba_fast.py \
  > $R/tests.log 2>&1
for K in tile seq; do
  timeout 100 python3 -P benchmarks/vfi_speed.py --models vfimamba_s --res 720p,1080p,4k \
    --precisions bf16 --paths fast --cuda-graph --seconds 1.5 --repeats 10 --infer-kernel $K \
    --seq-config $CFG --out $R/vfi-speed-$K.json > $R/vfi-speed-$K.log 2>&1
done
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/*.log; grep BEST $R/seq-sweep.log
