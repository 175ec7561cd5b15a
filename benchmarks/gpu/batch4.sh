# GPU batch 4 (nvidia-h100-x4, one 10-minute call), prepared for the next session: what batches
# 1-3 left unmeasured. GPU 0: the agent in imagination (S4WM, 3 seeds); GPU 1: the same for
# RSSM; GPU 2: the memory study rerun (untimed warm-up first) and bf16 T=16384 of the long scan;
# GPU 3: the 2-GPU DDP check on GPUs 2+3 first (from outside the repo root), then
# `worldssm evaluate --checkpoint` at TECO size (benchmarks/gpu/eval_checkpoint.sh's core).
# Small results land in $OUT/results.tgz. No mp4 writing: PyAV is not on the device.
source benchmarks/gpu/setup.sh
ROOT=$PWD R=/tmp/res && mkdir -p $R
left() { echo $((570 - SECONDS)); }
(
  CUDA_VISIBLE_DEVICES=0 timeout $(left) python3 benchmarks/agent_gpu.py --minutes 5 \
    --run-root /tmp/agent --out $R/agent-mdk-s4wm.json > $R/agent-s4wm.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=1 timeout $(left) python3 benchmarks/agent_gpu.py --model rssm --minutes 5 \
    --run-root /tmp/agent --out $R/agent-mdk-rssm.json > $R/agent-rssm.log 2>&1
) &
(
  cd /tmp && CUDA_VISIBLE_DEVICES=2,3 timeout 190 torchrun --standalone --nproc_per_node 2 \
    -m worldssm train --config $ROOT/configs/convs5_moving_mnist.yaml --data.seq_len 64 \
    --optim.batch_size 4 --run.steps 40 --run.log_every 10 --run.run_dir /tmp/ddp > $R/ddp.log 2>&1
  echo "ddp rc=$?" >> $R/ddp.log
  cd $ROOT && CUDA_VISIBLE_DEVICES=3 timeout $(left) python3 benchmarks/scan.py --sections long \
    --lengths 16384 --no-jax --out $R/scan-long16384.json > $R/scan-long16384.log 2>&1
) &
(
  sleep 200
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 benchmarks/memory_study.py --minutes 0.7 \
    --out $R/memory-study.json > $R/memory-study.log 2>&1
) &
sleep 60; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 4 $R/*.log
