#!/usr/bin/env bash
# Train VFIMamba-S (GPU 0) and the conv-only flow baseline vfiflow_conv_s (GPU 1) side by side with
# the same wall-clock budget, data and seed; export slim checkpoints; score both on held-out
# triplets; write model cards. Everything small lands in OUT_DIR:
#   OUT_DIR/vfimamba_s/{model.pt,config.yaml,MODEL_CARD.md,train_summary.json,tb/}
#   OUT_DIR/vfiflow_conv_s/...   OUT_DIR/vfi-quality.json   OUT_DIR/*.log
# Usage: bash benchmarks/vfi_train_gpu.sh MINUTES OUT_DIR [extra --section.key value overrides]
# With one GPU both runs share it (set GPUS="0 0"), which halves each one's speed.
set -euo pipefail
MINUTES=${1:?usage: vfi_train_gpu.sh MINUTES OUT_DIR [overrides]}
OUT=${2:?usage: vfi_train_gpu.sh MINUTES OUT_DIR [overrides]}
shift 2
read -r GPU_A GPU_B <<< "${GPUS:-0 1}"
mkdir -p "$OUT"
CUDA_VISIBLE_DEVICES=$GPU_A python benchmarks/vfi_train_gpu.py train --quiet \
    --config configs/vfimamba_s.yaml --minutes "$MINUTES" --out-dir "$OUT" "$@" \
    > "$OUT/train-vfimamba_s.log" 2>&1 &
PID_A=$!
CUDA_VISIBLE_DEVICES=$GPU_B python benchmarks/vfi_train_gpu.py train --quiet \
    --config configs/vfiflow_conv_s.yaml --minutes "$MINUTES" --out-dir "$OUT" "$@" \
    > "$OUT/train-vfiflow_conv_s.log" 2>&1 &
PID_B=$!
wait $PID_A; wait $PID_B
CUDA_VISIBLE_DEVICES=$GPU_A python benchmarks/vfi_quality.py \
    --checkpoint "$OUT/vfimamba_s/model.pt" --baseline "$OUT/vfiflow_conv_s/model.pt" \
    --out "$OUT/vfi-quality.json" 2>&1 | tee "$OUT/quality.log"
python benchmarks/vfi_train_gpu.py card --out-dir "$OUT" --quality "$OUT/vfi-quality.json"
