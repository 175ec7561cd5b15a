# GPU batch 7 (nvidia-h100-x4, one call): profiles that explain slow paths, plus the missing
# measurements. GPU 0: frame Transformer generation per SDPA backend, then VFIMamba-S at 1080p;
# GPU 1: envs.py on CUDA (new Voxel renderer never ran there); GPU 2: linear scan T=65536 and
# bf16 T=16384, then the video shape (complex64 after the stride-2 fix); GPU 3: kernel tables of
# each world's step + render, then envs.py with torch.compile. Results in $OUT/results.tgz.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
left() { echo $((570 - SECONDS)); }
cd .snap
P="python3 -P benchmarks/profile_ops.py"
(
  CUDA_VISIBLE_DEVICES=0 timeout 200 $P transformer-generation --out $R/prof-transformer.json \
    > $R/prof-transformer.log 2>&1
  CUDA_VISIBLE_DEVICES=0 timeout 120 $P vfi --res 1080p --precision fp32 --steps 10 \
    --out $R/prof-vfi-fp32.json > $R/prof-vfi-fp32.log 2>&1
  CUDA_VISIBLE_DEVICES=0 timeout $(left) $P vfi --res 1080p --precision bf16 --steps 10 \
    --out $R/prof-vfi-bf16.json > $R/prof-vfi-bf16.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=1 timeout $(left) python3 -P benchmarks/envs.py --device cuda \
    --out $R/envs-cuda.json > $R/envs-cuda.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=2 timeout 330 python3 -P benchmarks/scan.py --sections long \
    --lengths 65536,16384 --no-jax --out $R/scan-long.json > $R/scan-long.log 2>&1
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 -P benchmarks/scan.py --sections video \
    --no-jax --out $R/scan-video.json > $R/scan-video.log 2>&1
) &
(
  for w in MazeDMLab VoxelMinecraft IndoorHabitat; do
    CUDA_VISIBLE_DEVICES=3 timeout 90 $P envs --world $w --envs 8192 --size 64 --steps 10 \
      --out $R/prof-env-$w.json > $R/prof-env-$w.log 2>&1
  done
  CUDA_VISIBLE_DEVICES=3 timeout $(left) python3 -P benchmarks/envs.py --device cuda --compile \
    --sizes 64 --batches 1024 8192 65536 --out $R/envs-cuda-compiled.json \
    > $R/envs-cuda-compiled.log 2>&1
) &
sleep 90; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 4 $R/*.log
