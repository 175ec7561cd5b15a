# GPU batch 2 (nvidia-h100-x4, one 10-minute call): VFIMamba-S and the conv-only baseline
# trained side by side with one budget (GPUs 0, 1) and scored on held-out triplets; the 2-GPU
# DDP check, CUDA runs of the VFI / world-model tests, VFI speed and world-model throughput
# (GPU 2); the S4WM vs RSSM memory study (GPU 3). Small results land in $OUT/results.tgz and
# VFIMamba-S's checkpoint in $OUT/vfimamba_s.tar.part-*.
source benchmarks/gpu/setup.sh
ROOT=$PWD R=/tmp/res && mkdir -p $R
left() { echo $((575 - SECONDS)); }
(
  timeout $(( $(left) - 20 )) bash benchmarks/vfi_train_gpu.sh 5 $R/vfi > $R/vfi-train.log 2>&1
  echo "vfi rc=$?" >> $R/vfi-train.log
) &
(
  cd /tmp && CUDA_VISIBLE_DEVICES=2,3 timeout 90 torchrun --standalone --nproc_per_node 2 \
    -m worldssm train --config $ROOT/configs/convs5_moving_mnist.yaml --data.seq_len 64 \
    --optim.batch_size 4 --run.steps 60 --run.log_every 10 --run.run_dir /tmp/ddp > $R/ddp.log 2>&1
  echo "ddp rc=$?" >> $R/ddp.log; ls -la /tmp/ddp >> $R/ddp.log
  cp -r $ROOT/tests /tmp/pkg/ && cd /tmp/pkg && CUDA_VISIBLE_DEVICES=2 timeout 150 python3 -m pytest \
    -q -p no:cacheprovider --import-mode=importlib tests/models/test_ss2d.py \
    tests/models/test_vfimamba.py tests/models/test_world_models.py > $R/gpu-tests.log 2>&1
  cd $ROOT && CUDA_VISIBLE_DEVICES=2 timeout 200 python3 benchmarks/vfi_speed.py \
    --out $R/vfi-speed.json > $R/vfi-speed.log 2>&1
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 benchmarks/world_models.py \
    --out $R/world-models.json > $R/world-models.log 2>&1
) &
(
  sleep 95
  CUDA_VISIBLE_DEVICES=3 timeout $(left) python3 benchmarks/memory_study.py --minutes 1.3 \
    --videos $R/memory-videos --out $R/memory-study.json > $R/memory-study.log 2>&1
) &
sleep 60; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R --exclude='vfi/*/model.pt' --exclude='vfi/*/tb' .
# Files come back at most 16 MiB each: the shipped checkpoint travels in 15 MiB pieces.
tar cf - -C $R/vfi vfimamba_s | split -b 15M - $OUT/vfimamba_s.tar.part-
tail -n 4 $R/*.log
