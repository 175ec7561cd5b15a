"""``worldssm evaluate``: PSNR, SSIM, LPIPS and FVD of predicted videos against real ones.

Score a trained model (it generates from the real context frames of every video)::

    worldssm evaluate --checkpoint runs/dmlab/checkpoint.pt --data dmlab/ --protocol teco-dmlab \
        --out report/
    worldssm evaluate --checkpoint runs/quickstart/checkpoint.pt --data moving-digits \
        --protocol moving-mnist --out report/

or compare two folders of videos (``.mp4`` or ``.npz`` with a ``video`` array), paired by name::

    worldssm evaluate --real data/test --fake samples/ --protocol teco-dmlab --out report/

Both write ``report/metrics.json``, ``per_frame.csv``, ``horizon.png`` and ``grid.mp4``.
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
        "horizons 400/800/1200; custom: score frames after --context (with --checkpoint: "
        "--context K --horizon N)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=None,
        help="custom protocol: context frames, not scored by PSNR/SSIM/LPIPS "
        "(with --checkpoint also moving-mnist: override its 100)",
    )
    parser.add_argument(
        "--horizon",
        default=None,
        help="with --checkpoint: frames to predict (custom), or comma-separated horizons "
        "(moving-mnist: override 400,800,1200)",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(METRICS),
        help=f"comma-separated subset of {','.join(METRICS)} (default: all)",
    )
    parser.add_argument("--checkpoint", help="trainer checkpoint (checkpoint.pt) of the model")
    parser.add_argument(
        "--data",
        help="with --checkpoint: TECO-format folder (DMLab npz, Minecraft/Habitat mp4+npz, mp4) "
        "or 'moving-digits' (generated on the fly)",
    )
    parser.add_argument(
        "--split",
        default=None,
        help="with --data DIR: subfolder to read (default: DIR/test if it exists, else DIR)",
    )
    parser.add_argument(
        "--seed", type=int, default=12345, help="--data moving-digits: seed of the test videos"
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="generation and I3D: auto = bf16 autocast on CUDA, fp32 on CPU",
    )
    parser.add_argument("--num-workers", type=int, default=0, help="data loading processes")
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
    parser.add_argument(
        "--batch-size", type=int, default=4, help="videos per metric (I3D, LPIPS) batch"
    )
    parser.add_argument(
        "--gen-batch-size",
        type=int,
        default=16,
        help="with --checkpoint: videos generated (and held) at once",
    )
    parser.add_argument(
        "--max-videos",
        type=int,
        default=None,
        help="use the first N pairs / data videos (--data moving-digits: default 256)",
    )
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
    args.context = args.context or 0
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


def _model_clips(args, plan, model, cfg):
    """The real videos for ``--checkpoint`` runs: a TECO-format folder or moving digits."""
    from pathlib import Path

    from worldssm.eval import model_eval

    if args.data == model_eval.DIGITS:
        count = args.max_videos or 256
        digits = dict(num_digits=cfg.data.num_digits, mnist_path=cfg.data.mnist_path)
        return model_eval.DigitsClips(
            count, plan.clip_length, model.cfg.image_size, args.seed, **digits
        )
    split = args.split
    if split is None:  # TECO folders hold train/ and test/
        split = "test" if (Path(args.data) / "test").is_dir() else None
    args.split = split or None
    return model_eval.FolderClips(args.data, plan.clip_length, args.split, args.max_videos)


def _weights_or_skip(find, path, skipped: dict, name: str):
    """``find(path)``, or ``None`` with the reason in ``skipped`` when the default search finds
    nothing; a path the user gave that does not exist stays an error."""
    from worldssm.eval.weights import WeightsNotFoundError

    try:
        return find(path)
    except WeightsNotFoundError as err:
        if path is not None:
            raise
        skipped[name] = str(err)
        return None


def _evaluate_checkpoint(args, metrics: list[str]) -> dict:
    import datetime
    import sys
    import time

    import torch

    from worldssm import __version__
    from worldssm.commands.predict import load_model
    from worldssm.eval import model_eval
    from worldssm.eval.i3d import load_i3d
    from worldssm.eval.perceptual import get_lpips_model
    from worldssm.eval.report import write_report
    from worldssm.eval.weights import find_i3d_weights

    try:
        horizons = None if args.horizon is None else [int(h) for h in args.horizon.split(",")]
    except ValueError:
        raise ValueError(
            f"--horizon takes integers separated by commas, got {args.horizon!r}"
        ) from None
    plan = model_eval.make_plan(
        args.protocol, args.context, horizons, args.fvd_chunk, args.allow_rank_deficient
    )
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, cfg, ckpt = load_model(args.checkpoint, device)
    clips = _model_clips(args, plan, model, cfg)
    skipped: dict[str, str] = {}
    i3d = lpips_model = None
    if "fvd" in metrics:
        reason = model_eval.fvd_skip_reason(plan, len(clips))
        if reason:
            skipped["fvd"] = reason
        else:
            weights = _weights_or_skip(find_i3d_weights, args.i3d_weights, skipped, "fvd")
            i3d = load_i3d(weights, device) if weights is not None else None
    if "lpips" in metrics:
        lpips_model = _weights_or_skip(
            lambda p: get_lpips_model(p, device), args.alexnet_weights, skipped, "lpips"
        )
    for name, reason in skipped.items():
        print(f"warning: {name.upper()} skipped: {reason}", file=sys.stderr)
    run_metrics = [m for m in metrics if m not in skipped]
    if not run_metrics:
        raise ValueError(f"every requested metric was skipped ({', '.join(skipped)}): see above")
    start = time.time()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    scores = model_eval.evaluate_model(
        model,
        clips,
        plan,
        run_metrics,
        gen_batch_size=args.gen_batch_size,
        batch_size=args.batch_size,
        device=device,
        precision=args.precision,
        lpips_model=lpips_model,
        i3d_model=i3d,
        num_workers=args.num_workers,
        progress=not args.no_progress,
    )
    result = {
        "protocol": args.protocol,
        "checkpoint": str(args.checkpoint),
        "model": ckpt.get("model_name"),
        "step": ckpt["step"],
        "data": str(args.data),
        "split": args.split,
        "videos": scores.videos,
        "frames_per_video": plan.clip_length,
        "generations": [
            {
                "context": g.context,
                "horizon": g.horizon,
                "fvd": [key for key, _ in g.fvd],
                "frame_metrics": g.frame_metrics,
            }
            for g in plan.generations
        ],
        "metrics": scores.summary,
        "skipped": skipped,
        "seconds": round(time.time() - start, 2),
        "peak_gpu_GiB": (
            round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            if device.type == "cuda"
            else None
        ),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "worldssm": __version__,
        "settings": {
            "metrics": metrics,
            "device": str(device),
            "precision": args.precision,
            "gen_batch_size": args.gen_batch_size,
            "batch_size": args.batch_size,
            "seed": args.seed if args.data == model_eval.DIGITS else None,
            "i3d_weights": args.i3d_weights,
            "alexnet_weights": args.alexnet_weights,
        },
    }
    title = f"{args.protocol}: {ckpt.get('model_name')} step {ckpt['step']}"
    write_report(args.out, result, scores.frames, scores.grid_real, scores.grid_fake, title=title)
    return result


def _check_mode(args) -> str | None:
    """An error message when the flags mix the two modes or miss one's inputs."""
    if args.checkpoint is not None or args.data is not None:
        if args.real or args.fake:
            return "use either --checkpoint/--data or --real/--fake, not both"
        if not args.checkpoint or not args.data:
            return "score a model with both --checkpoint ckpt.pt and --data DIR (or moving-digits)"
        return None
    if not args.real or not args.fake:
        return "give --checkpoint ckpt.pt --data DIR, or --real DIR and --fake DIR"
    if args.horizon is not None:
        return "--horizon applies to --checkpoint runs (--real/--fake score the given frames)"
    return None


def run(args: argparse.Namespace) -> int:
    import sys

    problem = _check_mode(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        print(f"error: unknown --metrics {unknown}; choose from {METRICS}", file=sys.stderr)
        return 2
    from worldssm.eval.weights import WeightsNotFoundError

    evaluate = _evaluate_checkpoint if args.checkpoint else _evaluate
    try:
        result = evaluate(args, metrics)
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
    for name in result.get("skipped", {}):
        print(f"{name}: skipped (the reason is above and in metrics.json)")
    print(f"report written to {args.out}/")
    return 0
