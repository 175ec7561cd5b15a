# GPU batch 5 (nvidia-h100-x4, one 10-minute call): what batches 1-4 left unmeasured, each job on
# its own GPU. GPU 0: the agent in imagination (S4WM, 3 seeds); GPU 1: the same for RSSM;
# GPU 2: the memory-study rerun (untimed warm-up first); GPU 3: bf16 T=16384 of the long scan,
# then the CUDA-only tests of the kernels and world models. Results land in $OUT/results.tgz.
# No mp4 writing: PyAV is not on the device.
source benchmarks/gpu/setup.sh
ROOT=$PWD R=/tmp/res && mkdir -p $R
left() { echo $((575 - SECONDS)); }
# agent_gpu.py starts `python -m worldssm agent` in its cwd: run it outside the repo root, whose
# worldssm/ folder would shadow the installed package.
(
  cd /tmp && CUDA_VISIBLE_DEVICES=0 timeout $(left) python3 $ROOT/benchmarks/agent_gpu.py --minutes 5 \
    --run-root /tmp/agent_s4wm --out $R/agent-mdk-s4wm.json > $R/agent-s4wm.log 2>&1
) &
(
  cd /tmp && CUDA_VISIBLE_DEVICES=1 timeout $(left) python3 $ROOT/benchmarks/agent_gpu.py --model rssm --minutes 5 \
    --run-root /tmp/agent_rssm --out $R/agent-mdk-rssm.json > $R/agent-rssm.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=2 timeout $(left) python3 benchmarks/memory_study.py --minutes 1.0 \
    --out $R/memory-study.json > $R/memory-study.log 2>&1
) &
(
  CUDA_VISIBLE_DEVICES=3 timeout 300 python3 benchmarks/scan.py --sections long \
    --lengths 16384 --no-jax --out $R/scan-long16384.json > $R/scan-long16384.log 2>&1
  cp -r tests /tmp/pkg/tests_copy && cd /tmp/pkg && CUDA_VISIBLE_DEVICES=3 timeout $(left) \
    python3 -m pytest -q -x -p no:cacheprovider tests_copy/models/test_world_models.py \
    tests_copy/kernels > $R/pytest-cuda.log 2>&1
) &
sleep 90; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 4 $R/*.log
