"""Short quality run: train one frame-prediction model on moving digits for a fixed wall-clock
budget, then condition on 100 frames, predict 800 and report PSNR/SSIM per horizon bucket.

Run one model per GPU with the same budget so that ConvS5, ConvLSTM and the frame Transformer
are compared at equal cost (the ConvS5 paper's Moving-MNIST protocol, at a small budget):

    CUDA_VISIBLE_DEVICES=0 python benchmarks/convs5_quality.py --model convs5 --minutes 6 \\
        --out results/quality-convs5.json
    python benchmarks/convs5_quality.py --model convs5 --set num_layers=4 \\
        --set "enc_channels=[32, 64, 64]" --minutes 3      # a smaller model: more steps
    python benchmarks/convs5_quality.py --quick --out /tmp/q.json          # CPU smoke run

The JSON holds the training summary (steps reached, final loss), the per-bucket metrics, the
same metrics for trivial predictions (a blank frame, the last context frame, the context's mean
frame: what a model must beat), the PSNR of each of the first 20 predicted frames (how long a
model holds the digits before it drifts) and the exact command; ``--video`` also writes a real
| predicted mp4.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import torch
import yaml

from worldssm.eval import psnr, ssim
from worldssm.train.config import load_config
from worldssm.train.frame_prediction import build_dataset
from worldssm.train.generate import (
    first_frames_psnr,
    generate,
    side_by_side,
    to_uint8,
    write_mp4,
)
from worldssm.train.trainer import train


def bucket_metrics(pred: torch.Tensor, real: torch.Tensor, bucket: int) -> list[dict]:
    """PSNR and SSIM (frames in [0, 1]) per horizon bucket; pred, real (B, N, C, H, W)."""
    p = psnr(pred.float().clamp(0, 1), real.float(), data_range=1.0)  # (B, N)
    s = ssim(pred.float().clamp(0, 1), real.float(), data_range=1.0)
    rows = []
    for start in range(0, pred.shape[1], bucket):
        stop = min(start + bucket, pred.shape[1])
        rows.append(
            {
                "frames": f"{start + 1}-{stop}",
                "psnr": p[:, start:stop].clamp(max=100).mean().item(),
                "ssim": s[:, start:stop].mean().item(),
            }
        )
    return rows


def parse_overrides(items: list[str]) -> dict:
    """Model overrides from ``--set``: ``["num_layers=4", "enc_channels=[32, 64]"]`` ->
    ``{"num_layers": 4, "enc_channels": [32, 64]}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE (e.g. num_layers=4); got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="convs5", help="registry name (convs5, convlstm, ...)")
    p.add_argument("--minutes", type=float, default=6.0, help="training wall-clock budget")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=300, help="training clip length")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=200, help="linear warmup steps")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config override (YAML value), e.g. num_layers=4; repeatable",
    )
    p.add_argument("--context", type=int, default=100)
    p.add_argument("--horizon", type=int, default=800)
    p.add_argument("--test-videos", type=int, default=16)
    p.add_argument("--bucket", type=int, default=100)
    p.add_argument("--checkpoint-layers", action="store_true", help="recompute core layers")
    p.add_argument("--run-dir", default="runs/quality")
    p.add_argument("--video", default=None, help="write real | predicted mp4 here")
    p.add_argument("--quick", action="store_true", help="tiny CPU smoke run")
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)

    model_over = {"name": args.model, **parse_overrides(args.set)}
    if args.checkpoint_layers:
        model_over["checkpoint_layers"] = True
    data = {"kind": "moving_digits", "seq_len": args.seq_len, "image_size": args.image_size,
            "num_digits": 2}  # fmt: skip
    optim = {"lr": args.lr, "batch_size": args.batch, "warmup_steps": args.warmup}
    run = {"steps": 100_000, "max_minutes": args.minutes, "run_dir": args.run_dir}
    run.update(checkpoint_every=0, log_every=50, sample_every=0)
    if args.quick:
        model_over["name"] = args.model + "_tiny"
        data.update(seq_len=8, image_size=32, num_digits=1)
        optim.update(batch_size=2, warmup_steps=2)
        run.update(steps=3, max_minutes=None)
        data["num_workers"] = 0
        args.context, args.horizon, args.test_videos, args.bucket = 4, 6, 2, 3
    else:
        data["num_workers"] = 6 if torch.cuda.is_available() else 0
    cfg = load_config(None, {"model": model_over, "data": data, "optim": optim, "run": run})

    t0 = time.time()
    summary = train(cfg, resume=False, progress=False)
    train_s = time.time() - t0

    from worldssm.train.checkpoint import load_checkpoint
    from worldssm.train.trainer import build_model

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(cfg).to(device).eval()
    model.load_state_dict(load_checkpoint(summary["checkpoint"], map_location=device)["model"])
    total = args.context + args.horizon
    test = build_dataset(cfg.data, seq_len=total, seed=987_654)  # unseen seed
    frames = torch.stack([test[i]["frames"] for i in range(args.test_videos)])
    preds = []
    t1 = time.time()
    with (
        torch.no_grad(),
        torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"),
    ):
        for i in range(0, len(frames), args.batch):
            ctx = frames[i : i + args.batch, : args.context].to(device)
            preds.append(generate(model, ctx, args.horizon).float().clamp(0, 1).cpu())
    gen_s = time.time() - t1
    pred = torch.cat(preds)
    real = frames[:, args.context :]
    rows = bucket_metrics(pred, real, args.bucket)
    # What a model must beat: predicting nothing, the last context frame, or the context's mean.
    trivial = {
        "blank frame": torch.zeros_like(real),
        "last context frame": frames[:, args.context - 1 : args.context].expand_as(real),
        "mean of the context": frames[:, : args.context].mean(1, keepdim=True).expand_as(real),
    }
    baselines = {k: bucket_metrics(v, real, args.bucket) for k, v in trivial.items()}
    first = {"model": first_frames_psnr(pred, real)}
    first.update({k: first_frames_psnr(v, real) for k, v in trivial.items()})
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "card": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "model": cfg.model["name"],
        "model_overrides": {k: v for k, v in cfg.model.items() if k != "name"},
        "params_M": sum(q.numel() for q in model.parameters()) / 1e6,
        "train": {
            "minutes_budget": args.minutes,
            "seconds": train_s,
            "steps": summary["step"],
            "final_loss": summary["loss"],
            "batch": cfg.optim.batch_size,
            "seq_len": cfg.data.seq_len,
        },
        "eval": {
            "context": args.context,
            "horizon": args.horizon,
            "videos": len(frames),
            "seconds": gen_s,
        },
        "buckets": rows,
        "baselines": baselines,
        "first_frames_psnr": first,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:  # atomically, and before the video: a failing video writer loses no figures
        with open(args.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(args.out + ".tmp", args.out)
    if args.video:
        grid = side_by_side(frames[:4], torch.cat([frames[:4, : args.context], pred[:4]], 1))
        write_mp4(args.video, to_uint8(grid), fps=20)


if __name__ == "__main__":
    main()
