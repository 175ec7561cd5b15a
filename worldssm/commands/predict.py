"""``worldssm predict``: condition on real frames, generate a long horizon, write the video.

Example::

    worldssm predict --checkpoint runs/quickstart/checkpoint.pt --context 100 --horizon 400 \\
        --out pred.mp4

Without ``--video`` the context (and the ground truth for the metrics) comes from the
checkpoint's dataset (e.g. moving digits at a fresh seed). Writes ``--out`` (real | predicted
side by side) and prints MSE/PSNR per 100-frame horizon bucket, then the PSNR of the first
predicted frames, each beside repeating the last context frame and the context's mean frame.
"""

NAME = "predict"
HELP = "generate a long video prediction from a checkpoint; print per-horizon MSE/PSNR"


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--context", type=int, default=100, help="conditioning frames K")
    parser.add_argument("--horizon", type=int, default=400, help="frames to generate N")
    parser.add_argument("--out", default="pred.mp4", help="output mp4 (real | predicted)")
    parser.add_argument("--num-videos", type=int, default=4)
    parser.add_argument("--seed", type=int, default=12345, help="data seed of the test videos")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--split", default="test", help="split of a folder dataset (default test; '' = none)"
    )


def load_model(path, device):
    """A trained model from a trainer checkpoint, in eval mode on ``device``.

    Returns ``(model, cfg, ckpt)``: the model, its :class:`TrainConfig` and the raw checkpoint
    dict. Shared by ``worldssm predict`` and ``worldssm evaluate --checkpoint``.
    """
    from worldssm.registry import create_model
    from worldssm.train.checkpoint import load_checkpoint
    from worldssm.train.config import TrainConfig

    ckpt = load_checkpoint(path)
    cfg = TrainConfig.from_dict(ckpt["config"])
    model = create_model(ckpt["model_name"], **ckpt["model_config"]).to(device).eval()
    model.load_state_dict(ckpt["model"])
    return model, cfg, ckpt


def run(args) -> int:
    import dataclasses
    import json

    import torch

    from worldssm.train.frame_prediction import build_dataset
    from worldssm.train.generate import (
        first_frames_psnr,
        generate,
        horizon_metrics,
        side_by_side,
        to_uint8,
        write_mp4,
    )

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device)
    total = args.context + args.horizon
    data_cfg = dataclasses.replace(cfg.data, split=args.split or None)
    data = build_dataset(data_cfg, seq_len=total, seed=args.seed)
    items = [data[i] for i in range(args.num_videos)]
    frames = torch.stack([it["frames"] for it in items]).to(device)
    actions = None
    if model.cfg.action_dim and "actions" in items[0]:
        actions = torch.stack([it["actions"] for it in items]).to(device)
    pred = generate(model, frames[:, : args.context], args.horizon, actions)
    real = frames[:, args.context :]
    rows = horizon_metrics(pred, real)
    # Trivial predictors put the model's numbers in context: a model that has not learned the
    # dynamics scores no better than repeating the last frame or the context's mean frame.
    last = frames[:, args.context - 1 : args.context].expand_as(real)
    mean = frames[:, : args.context].mean(1, keepdim=True).expand_as(real)
    trivial = {"last_frame": last, "mean_frame": mean}
    baselines = {k: horizon_metrics(v, real) for k, v in trivial.items()}
    grid = side_by_side(frames, torch.cat([frames[:, : args.context], pred], dim=1))
    write_mp4(args.out, to_uint8(grid), fps=args.fps)
    print(f"context {args.context}  horizon {args.horizon}  videos {len(items)}  -> {args.out}")
    print(
        f"{'frames':>12} {'MSE':>10} {'PSNR':>8}   PSNR of: {'last frame':>10} {'mean frame':>10}"
    )
    for i, r in enumerate(rows):
        lp, mp = baselines["last_frame"][i]["psnr"], baselines["mean_frame"][i]["psnr"]
        print(
            f"{r['frames']:>12} {r['mse']:10.5f} {r['psnr']:8.2f}            {lp:10.2f} {mp:10.2f}"
        )
    # The first predicted frames show whether the model follows the motion at all, which the
    # 100-frame buckets average away once it drifts.
    first = {k: first_frames_psnr(v, real) for k, v in {"model": pred, **trivial}.items()}
    shown = [i for i in (1, 2, 3, 5, 10, 20) if i <= len(first["model"])]
    print(f"{'PSNR of predicted frame':>24} " + " ".join(f"{i:>6}" for i in shown))
    for name, values in first.items():
        label = name.replace("_", " ")
        print(f"{label:>24} " + " ".join(f"{values[i - 1]:6.2f}" for i in shown))
    metrics_path = str(args.out).rsplit(".", 1)[0] + "_metrics.json"
    with open(metrics_path, "w") as f:
        json.dump({"context": args.context, "horizon": args.horizon, "buckets": rows,
                   "baselines": baselines, "first_frames_psnr": first}, f, indent=1)  # fmt: skip
    return 0
