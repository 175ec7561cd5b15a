# GPU batch 8 (nvidia-h100-x4): GPU 0: selective-scan inference sweep at the VFIMamba-S 1080p
# shapes (3-D tile scan vs one state at a time); GPU 1: linear scan bf16 T=16384 (missing) and
# the video shape (chunked complex after the two-word fix); GPU 2: ConvS5 / ConvLSTM /
# Transformer generation with cuDNN attention kept out; GPU 3: world models (Transformer SSM
# imagination shares the attention layer) at T=64,256.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
left() { echo $((560 - SECONDS)); }
cd .snap
(
  CUDA_VISIBLE_DEVICES=0 timeout 400 python3 -P benchmarks/tune_selective.py --infer \
    --out $R/tune-selective-infer.json > $R/tune-infer.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=1 timeout 260 python3 -P benchmarks/scan.py --sections long \
    --lengths 16384 --no-jax --out $R/scan-long16k.json > $R/scan-long16k.log 2>&1
  CUDA_VISIBLE_DEVICES=1 timeout $(left) python3 -P benchmarks/scan.py --sections video \
    --no-jax --out $R/scan-video.json > $R/scan-video.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 -P benchmarks/convs5.py --skip-train \
    --out $R/convs5-gen.json > $R/convs5-gen.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=3 timeout $(left) python3 -P benchmarks/world_models.py --seq-lens 64,256 \
    --out $R/world-models.json > $R/world-models.log 2>&1
) &
sleep 90; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 6 $R/*.log
