# GPU batch 9 (nvidia-h100-x4): the sync-free envs (eager and CUDA graph), VFIMamba-S speed with
# the inference fast path and the new scan tiles, the complex64 tile sweep, and CUDA tests.
# GPU 0: VFI speed (reference vs fast path) then the VFI profile of the fast path;
# GPU 1: envs eager + graph at 64x64 then 128x128 graph; GPU 2: env profiles, complex64 tiles;
# GPU 3: CUDA tests of everything touched this session.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
left() { echo $((570 - SECONDS)); }
cd .snap
P="python3 -P benchmarks/profile_ops.py"
(
  CUDA_VISIBLE_DEVICES=0 timeout 330 python3 -P benchmarks/vfi_speed.py \
    --models vfimamba_s,vfiflow_conv_s --res 720p,1080p,4k --paths reference,fast --cuda-graph --seconds 1.5 --repeats 10 \
    --out $R/vfi-speed.json > $R/vfi-speed.log 2>&1
  CUDA_VISIBLE_DEVICES=0 timeout $(left) $P vfi --res 1080p --precision bf16 --fast --steps 10 \
    --out $R/prof-vfi-fast-bf16.json > $R/prof-vfi-fast-bf16.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=1 timeout 200 python3 -P benchmarks/envs.py --device cuda --sizes 64 \
    --out $R/envs-cuda.json > $R/envs-cuda.log 2>&1
  CUDA_VISIBLE_DEVICES=1 timeout $(left) python3 -P benchmarks/envs.py --device cuda --graph \
    --sizes 64 128 --out $R/envs-cuda-graph.json > $R/envs-cuda-graph.log 2>&1
) &
(
  for w in MazeDMLab VoxelMinecraft IndoorHabitat; do
    CUDA_VISIBLE_DEVICES=2 timeout 60 $P envs --world $w --envs 8192 --size 64 --steps 10 \
      --out $R/prof-env-$w.json > $R/prof-env-$w.log 2>&1
  done
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 -P benchmarks/scan.py --sections tiles \
    --lengths "" --no-peers --no-jax --out $R/scan-tiles.json > $R/scan-tiles.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=3 timeout $(left) python3 -P -m pytest -q -p no:cacheprovider \
    tests/envs tests/kernels tests/models/test_vfimamba.py tests/models/test_ss2d.py \
    tests/models/test_vfimamba_fast.py tests/models/test_video_models.py tests/cli > $R/pytest.log 2>&1
) &
sleep 120; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 5 $R/*.log
