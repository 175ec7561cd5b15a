"""Train one interpolation model for a fixed wall-clock budget on one GPU, then export it.

The number of steps (which fixes the cosine schedule) comes from the budget: the model's train
step is timed on random batches of the config's shape (bf16, after warm-up and Triton autotuning),
and ``steps = 0.97 * budget / step time``; ``run.max_minutes`` stops the loop at the budget in
any case. Then the checkpoint is exported slim (bf16 weights) with its config, ready for
``worldssm/assets/<name>/``. ``benchmarks/vfi_train_gpu.sh`` runs VFIMamba-S and the conv
baseline side by side and scores both with ``benchmarks/vfi_quality.py``.

    CUDA_VISIBLE_DEVICES=0 python benchmarks/vfi_train_gpu.py train \\
        --config configs/vfimamba_s.yaml --minutes 7 --out-dir /root/out [--optim.lr 5e-4 ...]
    python benchmarks/vfi_train_gpu.py card --out-dir /root/out --quality /root/out/vfi-quality.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch


def time_train_step(cfg, device, warmup: int = 5, iters: int = 15) -> float:
    """Seconds per optimizer step of ``cfg``'s model on random batches (bf16 autocast on GPU)."""
    from worldssm.models import param_groups
    from worldssm.train.interpolation import laplacian_loss
    from worldssm.train.trainer import build_model

    model = build_model(cfg).to(device).train()
    opt = torch.optim.AdamW(param_groups(model, cfg.optim.weight_decay), lr=cfg.optim.lr)
    b, s = cfg.optim.batch_size, cfg.data.image_size
    x0, x1, gt = (torch.rand(b, 3, s, s, device=device) for _ in range(3))
    t = torch.rand(b, device=device)
    amp = device.type == "cuda" and cfg.run.amp
    for i in range(warmup + iters):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(x0, x1, t)
        loss = laplacian_loss(pred, gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / iters
    del model, opt, pred, loss
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the real run builds its own model
    return seconds


def cmd_train(args) -> int:
    from worldssm.train.config import load_config, parse_overrides
    from worldssm.train.synthetic_triplets import image_set
    from worldssm.train.trainer import train
    from worldssm.train.vfi_inference import export_slim

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg = load_config(args.config, parse_overrides(args.overrides))
    if cfg.data.kind == "vfi_embedded" and len(image_set(False)) < 5:
        print("WARNING: few natural training images; pip install scikit-image", file=sys.stderr)
    name = cfg.model["name"]
    run_dir = Path(args.run_root) / name
    cfg.run.run_dir = str(run_dir)
    step_s = time_train_step(cfg, device)
    cfg.run.steps = max(10, int(0.97 * args.minutes * 60 / step_s))
    cfg.run.max_minutes = args.minutes
    cfg.optim.warmup_steps = min(cfg.optim.warmup_steps, cfg.run.steps // 10)
    cfg.data.curriculum_steps = min(cfg.data.curriculum_steps, cfg.run.steps // 2)
    print(f"{name}: {step_s * 1000:.1f} ms/step -> {cfg.run.steps} steps in {args.minutes} min")
    t0 = time.time()
    result = train(cfg, resume=False, progress=not args.quiet)
    wall = time.time() - t0
    out = Path(args.out_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    export_slim(result["checkpoint"], out / "model.pt")
    shutil.copy(run_dir / "config.yaml", out / "config.yaml")
    if (run_dir / "tb").is_dir():
        shutil.copytree(run_dir / "tb", out / "tb", dirs_exist_ok=True)
    summary = {
        "model": name,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "budget_minutes": args.minutes,
        "timed_step_ms": round(step_s * 1000, 2),
        "planned_steps": cfg.run.steps,
        "steps": result["step"],
        "final_loss": result["loss"],
        "train_wall_s": round(wall, 1),
        "batch_size": cfg.optim.batch_size,
        "crop": cfg.data.image_size,
        "seed": cfg.run.seed,
        "command": " ".join(["python"] + sys.argv),
    }
    (out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0


CARD = """# {name}: frame interpolation checkpoint

- Model: `{name}` ({params:.1f}M parameters), `worldssm.create_model("{name}")`; weights in bf16.
- Training: `worldssm train --config configs/{name}.yaml`, {steps} steps ({minutes} min on
  {device}), batch {batch}, {crop}x{crop} crops, seed {seed}, final loss {loss:.4f}.
- Data (embedded, no downloads): synthetic camera/object motion over the natural images shipped
  with matplotlib and scikit-image (held out: {heldout_images}) and clips of the built-in worlds
  {train_worlds} (held out: {heldout_world}); motion curriculum over the first
  {curriculum} steps.
- Held-out quality (`benchmarks/vfi_quality.py`, {n} triplets per source, PSNR dB / SSIM):

| method | images | world | all |
|---|---|---|---|
{rows}

Use: `worldssm interpolate in.mp4 out.mp4 --factor 2` (this folder in `worldssm/assets/` makes it
the default) or `--checkpoint path/to/model.pt`.
"""


def cmd_card(args) -> int:
    from worldssm.train.checkpoint import load_checkpoint
    from worldssm.train.synthetic_triplets import HELDOUT_IMAGES, HELDOUT_WORLD, TRAIN_WORLDS

    quality = json.loads(Path(args.quality).read_text())
    rows = "\n".join(
        f"| {m} | " + " | ".join(f"{r[s]['psnr']:.2f} / {r[s]['ssim']:.4f}"
                                 for s in ("images", "world", "all")) + " |"
        for m, r in quality["results"].items()
    )  # fmt: skip
    for summary_path in sorted(Path(args.out_dir).glob("*/train_summary.json")):
        s = json.loads(summary_path.read_text())
        ckpt = load_checkpoint(summary_path.parent / "model.pt")
        cfg = ckpt["config"]
        text = CARD.format(
            name=s["model"], params=sum(v.numel() for v in ckpt["model"].values()) / 1e6,
            steps=s["steps"], minutes=s["budget_minutes"], device=s["device"],
            batch=s["batch_size"], crop=s["crop"], seed=s["seed"], loss=s["final_loss"],
            heldout_images=", ".join(HELDOUT_IMAGES), train_worlds=", ".join(TRAIN_WORLDS),
            heldout_world=HELDOUT_WORLD, curriculum=cfg["data"]["curriculum_steps"],
            n=quality["heldout_data"]["triplets_per_source"], rows=rows,
        )  # fmt: skip
        (summary_path.parent / "MODEL_CARD.md").write_text(text)
        print(f"-> {summary_path.parent / 'MODEL_CARD.md'}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train for --minutes, export slim checkpoint + config")
    t.add_argument("--config", required=True)
    t.add_argument("--minutes", type=float, required=True, help="wall-clock training budget")
    t.add_argument("--out-dir", required=True, help="small outputs: <out>/<model>/model.pt ...")
    t.add_argument("--run-root", default="/tmp/vfi_runs", help="full checkpoints (large)")
    t.add_argument("--quiet", action="store_true")
    c = sub.add_parser("card", help="write MODEL_CARD.md beside each exported model")
    c.add_argument("--out-dir", required=True)
    c.add_argument("--quality", required=True, help="vfi_quality.py JSON")
    args, rest = ap.parse_known_args(argv)
    if args.cmd == "card" and rest:
        ap.error(f"unrecognized arguments: {rest}")
    args.overrides = rest  # train: --section.key value overrides of the config
    return cmd_train(args) if args.cmd == "train" else cmd_card(args)


if __name__ == "__main__":
    sys.exit(main())
