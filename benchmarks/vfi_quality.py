"""Frame-interpolation quality on held-out triplets: PSNR/SSIM of a VFIMamba checkpoint vs frame
repetition, linear blending and the conv-only flow baseline checkpoint; writes JSON.

Held-out data (sources never used for training, see ``worldssm.train.synthetic_triplets``):

- ``images``: synthetic camera motion (translation up to ``--max-motion`` px between the two
  input frames, small rotation/zoom, half the time a pasted moving object) over the held-out
  natural images ``skimage:rocket`` and ``mpl:grace_hopper``; t = 0.5 for half the triplets,
  uniform in [0.1, 0.9] otherwise;
- ``world``: the ``IndoorHabitat`` world (training uses MazeDMLab and VoxelMinecraft), frame gaps
  2..``--max-gap`` with t = k / gap.

Predicted frames are rounded to 8 bits before scoring (as a saved frame would be).

    python benchmarks/vfi_quality.py --checkpoint runs/vfimamba_s/model.pt \\
        --baseline runs/vfiflow_conv_s/model.pt --out benchmarks/results/vfi-quality-h100.json
    python benchmarks/vfi_quality.py --quick --out /tmp/vfi.json      # CPU smoke (untrained tiny)
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time

import torch

from worldssm.eval import psnr, ssim
from worldssm.train.synthetic_triplets import (
    HELDOUT_IMAGES,
    HELDOUT_WORLD,
    EmbeddedTriplets,
    image_set,
)
from worldssm.train.vfi_inference import FrameInterpolator, load_interpolator


def heldout_sets(n: int, crop: int, max_motion: float, max_gap: int, seed: int, device) -> dict:
    """{"images": [...], "world": [...]}: ``n`` held-out triplets per source (crop x crop)."""
    common = dict(crop=crop, max_motion=max_motion, max_gap=max_gap, seed=seed, heldout=True)
    images = EmbeddedTriplets(world_clips=0, length=n, **common)
    clips = max(4, min(64, n // 4))
    world = EmbeddedTriplets(world_weight=1.0, world_clips=clips, clip_len=max(12, 3 * max_gap),
                             length=n, device=device, **common)  # fmt: skip
    return {"images": [images[i] for i in range(n)], "world": [world[i] for i in range(n)]}


PSNR_CAP = 100.0


def score(method, items: list[dict], batch: int) -> dict:
    """Mean PSNR/SSIM of ``method(img0, img1, t) -> pred`` over ``items`` (uint8 scoring).

    Per-triplet PSNR is capped at 100 dB: a prediction equal to its target (e.g. repeating a
    frame of a static world triplet) would otherwise make the mean infinite.
    """
    ps, ss = [], []
    for lo in range(0, len(items), batch):
        b = torch.utils.data.default_collate(items[lo : lo + batch])
        pred = method(b["img0"], b["img1"], b["t"]).float().cpu()
        p8 = (pred.clamp(0, 1) * 255).round().byte()
        g8 = (b["gt"] * 255).round().byte()
        ps.append(psnr(p8, g8).clamp(max=PSNR_CAP))
        ss.append(ssim(p8, g8))
    ps, ss = torch.cat(ps), torch.cat(ss)
    return {"psnr": ps.mean().item(), "ssim": ss.mean().item(), "n": len(items)}


def repeat(img0, img1, t):
    """Frame repetition: the input frame nearer in time."""
    return torch.where(t.view(-1, 1, 1, 1) < 0.5, img0, img1)


def blend(img0, img1, t):
    w = t.view(-1, 1, 1, 1)
    return (1 - w) * img0 + w * img1


def model_method(checkpoint, preset, device, batch):
    """(method, info): a checkpoint's model, or an untrained ``preset`` (--quick only)."""
    if checkpoint:
        model, ckpt = load_interpolator(checkpoint, device)
        info = {"checkpoint": str(checkpoint), "model": ckpt["model_name"], "step": ckpt["step"]}
    else:
        from worldssm.registry import create_model

        model = create_model(preset).to(device).eval()
        info = {"checkpoint": None, "model": preset, "untrained": True}
    info["params"] = sum(p.numel() for p in model.parameters())
    return FrameInterpolator(model, batch_size=batch), info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="VFIMamba checkpoint (trainer's or slim export)")
    ap.add_argument("--baseline", help="conv-only flow baseline checkpoint")
    ap.add_argument("--out", required=True, help="JSON output")
    ap.add_argument("--n", type=int, default=512, help="triplets per held-out source")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--max-motion", type=float, default=48.0)
    ap.add_argument("--max-gap", type=int, default=8)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--quick", action="store_true", help="CPU smoke: 4 triplets of 32x32 per source"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.crop, args.batch, args.max_motion, args.max_gap = 4, 32, 4, 8.0, 4
        torch.manual_seed(0)  # the untrained tiny models
    if not args.quick and not args.checkpoint:
        ap.error("--checkpoint is required (without --quick)")
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)

    t0 = time.time()
    sets = heldout_sets(args.n, args.crop, args.max_motion, args.max_gap, args.seed, device)
    methods = {"repeat": (repeat, {}), "blend": (blend, {})}
    methods["vfimamba"] = model_method(args.checkpoint, "vfimamba_tiny", device, args.batch)
    if args.baseline or args.quick:
        methods["conv_baseline"] = model_method(
            args.baseline, "vfiflow_conv_tiny", device, args.batch
        )
    results = {}
    for name, (fn, _) in methods.items():
        per = {src: score(fn, items, args.batch) for src, items in sets.items()}
        total = sum(r["n"] for r in per.values())
        per["all"] = {k: sum(r[k] * r["n"] for r in per.values()) / total for k in ("psnr", "ssim")}
        results[name] = per
        print(f"{name:>14}  " + "  ".join(
            f"{src} {r['psnr']:.2f} dB / {r['ssim']:.4f}" for src, r in per.items()))  # fmt: skip
    report = {
        "benchmark": "frame interpolation quality on held-out triplets (PSNR dB / SSIM, 8-bit)",
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python"] + sys.argv),
        "heldout_data": {
            "images": f"synthetic motion over held-out images {list(HELDOUT_IMAGES)} "
            f"({[p.name for p in image_set(True)]}), max motion {args.max_motion} px",
            "world": f"{HELDOUT_WORLD} clips, gaps 2..{args.max_gap}, t = k / gap",
            "triplets_per_source": args.n,
            "crop": args.crop,
            "seed": args.seed,
        },
        "models": {k: info for k, (_, info) in methods.items() if info},
        "results": results,
        "seconds": round(time.time() - t0, 1),
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
