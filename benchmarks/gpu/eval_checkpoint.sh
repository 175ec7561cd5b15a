# GPU check of `worldssm evaluate --checkpoint` (nvidia-h100-x1, one 10-minute call, ~6 min).
# Paper-size ConvS5 trained for 30 steps (so the checkpoint comes from the real trainer) on a
# synthetic TECO DMLab folder (256 videos of 300 frames, 64x64 RGB, 6 actions) and on moving
# digits; I3D and AlexNet have random weights (no I3D weights exist offline): the scores test the
# plumbing, bf16 generation and the time / peak memory of the full TECO protocol, not quality.
# Results: $OUT/eval-checkpoint/{teco,teco-fp32,teco-bf16,mm}/ (metrics.json, per_frame.csv,
# horizon.png, grid.mp4) and *.log.
source benchmarks/gpu/setup.sh
R=$OUT/eval-checkpoint && mkdir -p $R /tmp/w
python3 - <<'EOF' > $R/setup.log 2>&1
import os

import numpy as np, torch
from worldssm.eval import AlexNetLPIPS, InceptionI3d
from worldssm.train.moving_digits import MovingDigits

torch.manual_seed(0)
torch.save(AlexNetLPIPS().state_dict(), "/tmp/w/alexnet.pth")
i3d = InceptionI3d()
for m in i3d.modules():
    if isinstance(m, torch.nn.Conv3d):
        torch.nn.init.kaiming_normal_(m.weight)
torch.save(i3d.state_dict(), "/tmp/w/i3d.pt")
digits, rng = MovingDigits(seq_len=300, image_size=64, num_digits=2, seed=3), np.random.default_rng(0)
for i in range(int(os.environ.get('N', 256))):
    d = f"/tmp/dmlab/test/{i % 8}"
    os.makedirs(d, exist_ok=True)
    grey = digits[i]["frames"][:, 0].numpy()  # (300, 64, 64) in [0, 1]
    colour = rng.uniform(0.3, 1.0, 3)
    video = (grey[..., None] * colour * 255).round().astype(np.uint8)
    np.savez(f"{d}/{i}.npz", video=video, actions=rng.integers(0, 6, 300))
print("data and weights written")
EOF
tail -1 $R/setup.log
TRAIN="--data.seq_len 32 --optim.batch_size 4 --run.steps 30 --run.log_every 10"
timeout 120 python3 -m worldssm train --config configs/convs5_dmlab.yaml --data.root /tmp/dmlab \
  --data.split test --run.run_dir /tmp/run_dmlab $TRAIN > $R/train-dmlab.log 2>&1
echo "train dmlab rc=$?"
W="--i3d-weights /tmp/w/i3d.pt --alexnet-weights /tmp/w/alexnet.pth --num-workers 4 --no-progress"
E="python3 -m worldssm evaluate --checkpoint /tmp/run_dmlab/checkpoint.pt --data /tmp/dmlab"
timeout 240 $E --protocol teco-dmlab --gen-batch-size 32 $W --out $R/teco > $R/teco.log 2>&1
echo "teco rc=$?"
for p in fp32 bf16; do  # generation precision: the same 32 videos, PSNR/SSIM only
  timeout 60 $E --protocol teco-dmlab --max-videos 32 --gen-batch-size 32 --metrics psnr,ssim \
    --precision $p $W --out $R/teco-$p > $R/teco-$p.log 2>&1
  echo "teco $p rc=$?"
done
timeout 100 python3 -m worldssm train --config configs/convs5_moving_mnist.yaml \
  --run.run_dir /tmp/run_mm $TRAIN > $R/train-mm.log 2>&1
echo "train mm rc=$?"
timeout $((570 - SECONDS)) python3 -m worldssm evaluate --checkpoint /tmp/run_mm/checkpoint.pt \
  --data moving-digits --protocol moving-mnist --max-videos 64 --gen-batch-size 32 $W \
  --out $R/mm > $R/mm.log 2>&1
echo "mm rc=$?"
for f in $R/*/metrics.json; do
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1].split('/')[-2], \
d['videos'], 'videos', d['seconds'], 's', d['peak_gpu_GiB'], 'GiB', d['metrics'], d['skipped'])" $f
done
tail -n 3 $R/*.log
