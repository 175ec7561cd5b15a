# GPU batch 86 (one H200): the fused selective scan's training tiles, fp32 and bf16, at the Mamba
# shape (8, 1536, 2048, 16). Batch 85 timed this shape's bf16 fwd+bwd at 7.24 ms forward and
# 6.12 ms with every channel reversed (fp32: 5.91 / 6.71); the defaults come from an fp32 sweep
# on an H100. One process per dtype, each under a timeout; rows are saved as they come.
source benchmarks/gpu/setup.sh
T=.snap/benchmarks/tune_selective.py
for dt in bf16 fp32; do
  timeout 280 python3 -P $T --dtypes $dt --shapes mamba \
    --out $OUT/tune-selective-$dt.json 2>&1 | tail -n 30
done
