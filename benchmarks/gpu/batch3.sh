# GPU batch 3 (nvidia-h100-x1, one 10-minute call): VFIMamba-S and the conv-only baseline trained
# at once on the one GPU (equal share, same budget, data and seed) and scored on held-out
# triplets; the S4WM vs RSSM memory study alongside. Results in $OUT/results.tgz, VFIMamba-S's
# checkpoint in $OUT/vfimamba_s.tar.part-*.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
left() { echo $((570 - SECONDS)); }
(
  GPUS="0 0" timeout $(( $(left) - 15 )) bash benchmarks/vfi_train_gpu.sh 4.5 $R/vfi \
    --data.num_workers 6 > $R/vfi-train.log 2>&1
  echo "vfi rc=$?" >> $R/vfi-train.log
) &
(
  timeout $(( $(left) - 10 )) python3 benchmarks/memory_study.py --minutes 0.8 \
    --out $R/memory-study.json > $R/memory-study.log 2>&1
) &
sleep 90; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R --exclude='vfi/*/model.pt' --exclude='vfi/*/tb' .
# Files come back at most 16 MiB each: the shipped checkpoint travels in 15 MiB pieces.
tar cf - -C $R/vfi vfimamba_s | split -b 15M - $OUT/vfimamba_s.tar.part-
tail -n 4 $R/*.log $R/vfi/*.log
