"""``worldssm interpolate``: frame interpolation of a video file or of an image pair.

Examples::

    worldssm interpolate in.mp4 out.mp4 --factor 4           # 4x the frames (t = 1/4, 2/4, 3/4)
    worldssm interpolate in.mp4 out.mp4 --fps 60             # any target rate; VFR input works
    worldssm interpolate in_4k.mp4 out.mp4 --factor 2 --scale 0.25
    worldssm interpolate a.png b.png --n 7 --out frames/     # frame_0000.png (a) .. 0008 (b)
    worldssm interpolate --checkpoint runs/vfimamba_s/checkpoint.pt --export slim.pt

Without ``--checkpoint`` the shipped checkpoint (``worldssm/assets/vfimamba_s/model.pt``) is used.
The input's audio stream is copied; frames of any size are padded for the model and cropped back.
"""

NAME = "interpolate"
HELP = "interpolate frames of a video (--factor N or --fps R) or between two images (--n K)"


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="*", help="IN.mp4 OUT.mp4, or A.png B.png with --out DIR")
    parser.add_argument("--factor", type=int, help="output frames per input frame (integer >= 2)")
    parser.add_argument("--fps", type=float, help="target frame rate instead of --factor")
    parser.add_argument("--n", type=int, default=1, help="image pairs: frames between A and B")
    parser.add_argument("--out", help="image pairs: output folder")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="estimate flow at this scale: 0.5 (2K), 0.25 (4K)"
    )
    parser.add_argument("--checkpoint", help="trained checkpoint (default: the shipped one)")
    parser.add_argument(
        "--batch-size", type=int, help="frame pairs per forward pass (default: by frame size)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="weights and activations: bf16 on CUDA, fp32 on CPU by default",
    )
    parser.add_argument(
        "--export", metavar="PATH", help="write a slim (bf16, no optimizer) copy of --checkpoint"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from pathlib import Path

    import torch

    from worldssm.train.triplets import IMAGE_SUFFIXES

    if args.export:
        from worldssm.train.vfi_inference import export_slim

        if not args.checkpoint:
            raise SystemExit("--export needs --checkpoint (the checkpoint to slim down)")
        out = export_slim(args.checkpoint, args.export)
        print(f"slim checkpoint {out} ({out.stat().st_size / 2**20:.1f} MiB)")
        return 0
    if len(args.inputs) != 2:
        raise SystemExit("give two inputs: IN_VIDEO OUT_VIDEO, or IMAGE_A IMAGE_B --out DIR")
    first, second = (Path(p) for p in args.inputs)
    images = first.suffix.lower() in IMAGE_SUFFIXES
    if images and not args.out:
        raise SystemExit("image pairs need --out DIR (the folder for the frames)")
    if not images and args.factor is None and args.fps is None:
        raise SystemExit("videos need --factor N (integer >= 2) or --fps RATE")
    for p in [first] + ([second] if images else []):
        if not p.is_file():
            raise SystemExit(f"input not found: {p}")

    from worldssm.train.vfi_inference import FrameInterpolator, load_interpolator

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    try:
        model, ckpt = load_interpolator(args.checkpoint, device)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from e
    batch = args.batch_size or _default_batch(first, images)
    amp = None
    if hasattr(model, "prepare_for_inference"):
        # Weights cast once and NHWC activations (cuDNN without layout transposes); the
        # prepared model runs without autocast, which would re-cast weights on every call.
        precision = args.precision
        if precision == "auto":
            precision = "bf16" if device.type == "cuda" else "fp32"
        model.prepare_for_inference(torch.bfloat16 if precision == "bf16" else torch.float32)
        amp = False
    interp = FrameInterpolator(model, scale=args.scale, batch_size=batch, amp=amp)
    if images:
        paths = interpolate_images(interp, first, second, args.n, Path(args.out))
        print(f"{len(paths)} frames ({args.n} interpolated) -> {args.out}")
        return 0
    from worldssm.train.vfi_video import interpolate_video

    try:
        stats = interpolate_video(
            interp, first, second, factor=args.factor, fps=args.fps, progress=not args.quiet
        )
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from e
    print(
        f"{stats['input_frames']} frames at {stats['input_fps']:.3f} fps -> "
        f"{stats['output_frames']} frames at {stats['output_fps']:.3f} fps"
        f"{' (audio copied)' if stats['audio'] else ''} -> {second}"
    )
    return 0


def interpolate_images(interp, a, b, n: int, out_dir):
    """Write A, the ``n`` frames at t = k/(n+1), and B as ``out_dir/frame_0000.png`` ...;
    returns the paths."""
    import numpy as np
    import torch
    from PIL import Image

    from worldssm.train.triplets import read_image

    if n < 1:
        raise SystemExit(f"--n must be >= 1, got {n}")
    try:
        x0, x1 = read_image(a), read_image(b)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from e
    if x0.shape != x1.shape:
        raise SystemExit(f"images differ in size: {a} {tuple(x0.shape)} vs {b} {tuple(x1.shape)}")
    t = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)
    mids = interp(x0[None].expand(n, -1, -1, -1), x1[None].expand(n, -1, -1, -1), t)
    frames = [x0, *mids.cpu(), x1]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        arr = (f.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        path = out_dir / f"frame_{i:04d}.png"
        Image.fromarray(np.ascontiguousarray(arr)).save(path)
        paths.append(path)
    return paths


def _default_batch(path, images: bool) -> int:
    """Pairs per forward: 8 at 720p and below, fewer for larger frames (GPU memory)."""
    if images:
        return 8
    from worldssm.train.vfi_video import open_video

    try:
        with open_video(path) as c:
            s = c.streams.video[0]
            pixels = s.width * s.height
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from e
    return max(1, min(8, int(8 * 1280 * 720 / max(1, pixels))))
