"""``worldssm evaluate``: PSNR, SSIM, LPIPS and FVD of predicted videos against real ones.

Compare two folders of videos (``.mp4`` or ``.npz`` with a ``video`` array), paired by file name::

    worldssm evaluate --real data/test --fake samples/ --protocol teco-dmlab --out report/

writes ``report/metrics.json``, ``per_frame.csv``, ``horizon.png`` and ``grid.mp4``.
"""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "score predicted videos against real ones (PSNR, SSIM, LPIPS, FVD) and write a report"
PROTOCOLS = ("custom", "teco-dmlab", "moving-mnist")
METRICS = ("psnr", "ssim", "lpips", "fvd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", help="folder of real videos (.mp4 / .npz)")
    parser.add_argument("--fake", help="folder of predicted videos, same file names as --real")
    parser.add_argument("--out", default="report", help="report folder (default: report/)")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="custom",
        help="teco-dmlab: TECO's FVD (36 context, 300 frames, chunks of 256) and "
        "PSNR/SSIM/LPIPS on frames 144..299; moving-mnist: condition 100, "
        "horizons 400/800/1200; custom: score frames after --context",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=0,
        help="custom protocol: context frames, not scored by PSNR/SSIM/LPIPS",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(METRICS),
        help=f"comma-separated subset of {','.join(METRICS)} (default: all)",
    )
    parser.add_argument("--checkpoint", help="model checkpoint to sample from (not available yet)")
    parser.add_argument("--data", help="with --checkpoint: dataset folder (not available yet)")
    parser.add_argument(
        "--i3d-weights",
        help="I3D weights (i3d_pretrained_400.pt or "
        "i3d_torchscript.pt); default: $WORLDSSM_I3D_WEIGHTS or the cache",
    )
    parser.add_argument(
        "--alexnet-weights",
        help="AlexNet weights for LPIPS; default: "
        "$WORLDSSM_ALEXNET_WEIGHTS, the torch hub cache or the worldssm cache",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--batch-size", type=int, default=4, help="videos per batch")
    parser.add_argument("--max-videos", type=int, default=None, help="use the first N pairs")
    parser.add_argument(
        "--fvd-chunk",
        type=int,
        default=None,
        help="custom protocol: FVD mean ± std over chunks of this many videos",
    )
    parser.add_argument(
        "--allow-rank-deficient",
        action="store_true",
        help="allow FVD with fewer videos than I3D features (400)",
    )
    parser.add_argument("--cache-dir", default=None, help="cache I3D features here")
    parser.add_argument("--npz-key", default="video", help="array name in .npz files")
    parser.add_argument("--fps", type=int, default=10, help="frame rate of grid.mp4")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _pair_folders(args):
    from pathlib import Path

    from worldssm.eval.video_io import VideoFolder

    real = VideoFolder(args.real, key=args.npz_key, limit=args.max_videos)
    fake = VideoFolder(args.fake, key=args.npz_key, limit=args.max_videos)
    r_names = [str(Path(n).with_suffix("")) for n in real.names()]
    f_names = [str(Path(n).with_suffix("")) for n in fake.names()]
    if r_names != f_names:
        missing = sorted(set(r_names) ^ set(f_names))[:5]
        raise ValueError(
            f"--real has {len(r_names)} videos and --fake {len(f_names)}, and their names must "
            f"match (extension aside); first differences: {missing}"
        )
    return real, fake


def _evaluate(args, metrics: list[str]) -> dict:
    import datetime

    import torch

    from worldssm import __version__
    from worldssm.eval import protocols
    from worldssm.eval.report import write_report

    real, fake = _pair_folders(args)
    progress = not args.no_progress
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    frame_names = [m for m in metrics if m != "fvd"]
    frame_kw = dict(
        metrics=frame_names,
        batch_size=args.batch_size,
        device=args.device,
        alexnet_weights=args.alexnet_weights,
        progress=progress,
    )
    fvd_kw = dict(
        i3d_weights=args.i3d_weights,
        batch_size=args.batch_size,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=progress,
    )
    summary: dict = {}
    frames = None
    if args.protocol == "teco-dmlab":
        if "fvd" in metrics:
            summary["fvd"] = protocols.teco_fvd(real, fake, **fvd_kw)
        if frame_names:
            frames = protocols.teco_frame_metrics(real, fake, **frame_kw)
            summary.update(frames.summary())
    elif args.protocol == "moving-mnist":
        frames, mm = protocols.moving_mnist(
            real, fake, with_fvd="fvd" in metrics, frame_kwargs=frame_kw, fvd_kwargs=fvd_kw
        )
        summary.update(mm)
    else:
        full_fake = protocols.WithContext(real, fake, args.context) if args.context else fake
        if "fvd" in metrics:
            summary["fvd"] = protocols.fvd_summary(
                real, full_fake, args.fvd_chunk, args.allow_rank_deficient, **fvd_kw
            )
        if frame_names:
            frames = protocols.frame_metrics(
                protocols.Frames(real, args.context),
                protocols.Frames(full_fake, args.context),
                **frame_kw,
            )
            frames.first_frame = args.context
            summary.update(frames.summary())
    result = {
        "protocol": args.protocol,
        "real": str(args.real),
        "fake": str(args.fake),
        "videos": len(real),
        "frames_per_video": int(real[0].shape[0]),
        "metrics": summary,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "worldssm": __version__,
        "settings": {
            "context": args.context,
            "metrics": metrics,
            "device": args.device,
            "i3d_weights": args.i3d_weights,
            "alexnet_weights": args.alexnet_weights,
        },
    }
    grid_fake = protocols.WithContext(real, fake, args.context) if args.context else fake
    write_report(args.out, result, frames, real, grid_fake, title=f"{args.protocol}: {args.fake}")
    return result


def run(args: argparse.Namespace) -> int:
    import sys

    if args.checkpoint is not None or args.data is not None:
        print(
            "error: `worldssm evaluate --checkpoint/--data` is not available yet: it needs the "
            "model families and their sampling loops, which have not landed. Generate videos "
            "into a folder and use `worldssm evaluate --real DIR --fake DIR --out report/`.",
            file=sys.stderr,
        )
        return 2
    if not args.real or not args.fake:
        print("error: give --real DIR and --fake DIR", file=sys.stderr)
        return 2
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        print(f"error: unknown --metrics {unknown}; choose from {METRICS}", file=sys.stderr)
        return 2
    from worldssm.eval.weights import WeightsNotFoundError

    try:
        result = _evaluate(args, metrics)
    except (ValueError, FileNotFoundError, WeightsNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name, value in result["metrics"].items():
        if isinstance(value, dict) and "mean" in value:
            chunk = value["chunk_size"]
            print(f"{name}: {value['mean']:.4f} ± {value['std']:.4f} (chunks of {chunk})")
        elif isinstance(value, dict) and "value" in value:
            print(f"{name}: {value['value']:.4f}")
        elif isinstance(value, float):
            print(f"{name}: {value:.4f}")
    print(f"report written to {args.out}/")
    return 0
