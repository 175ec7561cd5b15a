# GPU batch 6 (nvidia-h100-x4, one 10-minute call): the new kernels and generation paths, each
# benchmark alone on its GPU first (clean timings), then that area's tests in the time left.
# GPU 0: linear scan (chunked variant, bf16 backward, complex) vs peers; GPU 1: VFIMamba-S speed
# (chunked selective scan, SS2D layouts); GPU 2: ConvS5/ConvLSTM/Transformer with CUDA-graph
# generation; GPU 3: the whole test suite on CUDA. Results land in $OUT/results.tgz.
source benchmarks/gpu/setup.sh
ROOT=$PWD R=/tmp/res && mkdir -p $R
left() { echo $((580 - SECONDS)); }
# Tests and benchmarks run from the committed snapshot; `python3 -P` keeps its worldssm/ folder
# from shadowing the package assembled in /tmp/pkg.
cd .snap
gpu_tests() {  # $1: GPU, $2: log name, rest: pytest args
  local gpu=$1 log=$2; shift 2
  CUDA_VISIBLE_DEVICES=$gpu timeout $(left) python3 -P -m pytest -q -p no:cacheprovider "$@" \
    > $R/$log 2>&1
}
(
  CUDA_VISIBLE_DEVICES=0 timeout 420 python3 -P benchmarks/scan.py --sections long,video \
    --lengths 1024,16384,65536 --no-jax --out $R/scan.json > $R/scan.log 2>&1
  gpu_tests 0 pytest-linear.log -x tests/kernels/test_linear_scan.py
) &
(
  CUDA_VISIBLE_DEVICES=1 timeout 360 python3 -P benchmarks/vfi_speed.py --models vfimamba_s \
    --res 720p,1080p --kernel --chunk-tiles 8,16,32,64,128 \
    --scan-variants gathered-seq,layouts-seq,layouts-chunked \
    --memory-formats contiguous,channels_last --out $R/vfi-speed.json > $R/vfi-speed.log 2>&1
  gpu_tests 1 pytest-vfi.log tests/kernels/test_selective_scan.py tests/models/test_ss2d.py \
    tests/models/test_vfimamba.py
) &
(
  CUDA_VISIBLE_DEVICES=2 timeout 420 python3 -P benchmarks/convs5.py --checkpoint-layers \
    --out $R/convs5.json > $R/convs5.log 2>&1
  gpu_tests 2 pytest-video.log tests/models/test_video_models.py tests/models/test_ssm_layers.py
) &
(
  gpu_tests 3 pytest-all.log --ignore=tests/kernels -k "not ddp"
) &
sleep 100; nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv
wait
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/*.log
