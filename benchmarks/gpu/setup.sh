# Sourced at the start of every GPU batch (device machine, repo root as cwd).
# Missing pure-Python deps travel as wheels in .whl/ (see benchmarks/README.md); they go after
# the machine's own site-packages so its torch/numpy win. The package is copied out of the repo
# so that the root folders (kernels/, train/, ...) map onto worldssm.* as when installed.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>&1 | tail -2
# PyAV (35 MB, for batches that write videos) travels only when carried: .whl-av/ (ignored).
if [ -d .whl-av ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl-av/*.whl 2>&1 | tail -2
fi
SP=$(python3 -c "import site; print(site.getsitepackages()[0])")
echo /tmp/site > "$SP/zz_worldssm_wheels.pth"
# A committed snapshot (`git archive HEAD` unpacked into .snap/, carried) wins over the working
# tree, which may hold half-edited files.
SRC=.; [ -d .snap/worldssm ] && SRC=.snap
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r $SRC/worldssm /tmp/pkg/
for d in kernels envs train eval assets; do cp -r "$SRC/$d" "/tmp/pkg/worldssm/$d"; done
# The snapshot leaves out the shipped 34 MB checkpoint (the call's tree may carry 64 MiB in all);
# the working tree has it.
CKPT=assets/vfimamba_s/model.pt
[ -f "/tmp/pkg/worldssm/$CKPT" ] || cp "$CKPT" "/tmp/pkg/worldssm/$CKPT"
# Scripts that call `python`: a wrapper, not a symlink (a symlinked venv python loses its venv).
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > /tmp/bin/python
chmod +x /tmp/bin/python && export PATH=/tmp/bin:$PATH
export PYTHONPATH=/tmp/pkg PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
# Keep Triton autotune results on disk so later processes of the batch skip the sweep.
export TRITON_CACHE_AUTOTUNING=1
python3 -c "import torch, triton, yaml, tqdm, einops, torchmetrics, tensorboard, worldssm; \
print('torch', torch.__version__, 'triton', triton.__version__, 'gpus', torch.cuda.device_count(), \
torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
