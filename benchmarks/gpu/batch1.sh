# GPU batch 1 (nvidia-h100-x4, one 10-minute call): 2-GPU DDP check, long-scan lengths,
# selective-scan tile sweep (in the time left), ConvS5 quality run (3 models, same budget, one GPU each),
# ConvS5 training benchmark with --checkpoint-layers. Results land in $OUT/results.tgz.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
Q="--minutes 4 --batch 8 --seq-len 300 --checkpoint-layers --test-videos 16"
(
  CUDA_VISIBLE_DEVICES=0,1 timeout 100 torchrun --standalone --nproc_per_node 2 -m worldssm train \
    --config configs/convs5_moving_mnist.yaml --data.seq_len 64 --optim.batch_size 4 \
    --run.steps 60 --run.log_every 10 --run.run_dir /tmp/ddp > $R/ddp.log 2>&1
  echo "ddp rc=$?" >> $R/ddp.log
  CUDA_VISIBLE_DEVICES=0 timeout 440 python3 benchmarks/scan.py --sections long \
    --lengths 65536,16384 --no-jax --out $R/scan-long.json > $R/scan-long.log 2>&1
) &
(
  sleep 100
  CUDA_VISIBLE_DEVICES=1 timeout 420 python3 benchmarks/convs5_quality.py --model convs5 $Q \
    --run-dir /tmp/q1 --out $R/quality-convs5.json > $R/quality-convs5.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=2 timeout 400 python3 benchmarks/convs5_quality.py --model convlstm $Q \
    --run-dir /tmp/q2 --out $R/quality-convlstm.json > $R/quality-convlstm.log 2>&1
  CUDA_VISIBLE_DEVICES=2 timeout $((570 - SECONDS)) python3 benchmarks/convs5.py --checkpoint-layers \
    --out $R/convs5-ckpt.json > $R/convs5-ckpt.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=3 timeout 420 python3 benchmarks/convs5_quality.py \
    --model frame_transformer $Q --run-dir /tmp/q3 --out $R/quality-transformer.json \
    > $R/quality-transformer.log 2>&1
  CUDA_VISIBLE_DEVICES=3 timeout $((570 - SECONDS)) python3 benchmarks/tune_selective.py \
    --block-l 16,32,8 --out $R/tune-selective.json > $R/tune-selective.log 2>&1
) &
sleep 2
CUDA_VISIBLE_DEVICES=3 nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/*.log
