"""VFIMamba inference speed: 2x interpolation frames/s and peak memory at 720p, 1080p and 4K.

One interpolated frame per forward pass of a (img0, img1) pair batch, t = 0.5, random weights
(speed does not depend on them) unless ``--checkpoint`` is given. Frames are padded to the
model's multiple as the CLI does (1080 -> 1088). Each (model, resolution, precision) runs a
warm-up pass (Triton JIT, cuDNN autotune), then CUDA-synchronised passes until ``--repeats``
passes or ``--seconds`` have run; the feature extractor (where the Mixed-SSM scans run) is also
timed alone. An out-of-memory error is recorded, not fatal.

    python benchmarks/vfi_speed.py --out benchmarks/results/vfi-speed-h100.json     # one GPU
    python benchmarks/vfi_speed.py --quick --out /tmp/vfi_quick.json               # CPU check
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time

import torch

import worldssm
from worldssm.kernels.backend import resolve_backend
from worldssm.models.vfimamba import pad_to_multiple

RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}
MODELS = ("vfimamba_s", "vfimamba", "vfiflow_conv_s")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def bench_one(model, size, precision: str, args, device) -> dict:
    """Time ``model`` on one resolution and precision; returns a result row."""
    h, w = size
    row = {"height": h, "width": w, "precision": precision, "batch": args.batch}
    multiple = int(round(model.pad_multiple / args.scale))
    g = torch.Generator(device=device).manual_seed(0)
    img0 = torch.rand(args.batch, 3, h, w, device=device, generator=g)
    img1 = (img0 + 0.05 * torch.randn(img0.shape, device=device, generator=g)).clamp(0, 1)
    img0, _ = pad_to_multiple(img0, multiple)
    img1, _ = pad_to_multiple(img1, multiple)
    row["padded"] = list(img0.shape[-2:])
    amp = precision == "bf16"
    kwargs = {} if args.scale == 1 else {"scale": args.scale}

    def run():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            return model(img0, img1, 0.5, **kwargs)

    try:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        run()
        _sync(device)
        row["warmup_s"] = time.perf_counter() - t0
        n, t0 = 0, time.perf_counter()
        while n < args.repeats and (n == 0 or time.perf_counter() - t0 < args.seconds):
            run()
            _sync(device)  # per pass, so the time budget check sees finished work
            n += 1
        elapsed = time.perf_counter() - t0
        row.update(passes=n, ms_per_pass=1e3 * elapsed / n, frames_per_s=n * args.batch / elapsed)
        if args.breakdown:
            # The feature extractor alone (where the Mixed-SSM scans run) on the same pair.
            pair = torch.cat([img0, img1], 0)
            if args.scale != 1:
                pair = torch.nn.functional.interpolate(pair, scale_factor=args.scale)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                model.encoder(pair)
                _sync(device)
                t0 = time.perf_counter()
                for _ in range(n):
                    model.encoder(pair)
                _sync(device)
            row["encoder_ms_per_pass"] = 1e3 * (time.perf_counter() - t0) / n
        if device.type == "cuda":
            row["peak_GiB"] = torch.cuda.max_memory_allocated(device) / 2**30
    except torch.OutOfMemoryError as e:
        row["error"] = f"OOM: {str(e).splitlines()[0]}"
    return row


def _load(name: str, args, device):
    if name.startswith("checkpoint:"):
        from worldssm.train.vfi_inference import load_interpolator

        model, _ = load_interpolator(name.removeprefix("checkpoint:"), device=device)
        return model
    return worldssm.create_model(name).to(device).eval()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny models and frames on CPU")
    p.add_argument("--models", default=",".join(MODELS), help="registry names, comma-separated")
    p.add_argument("--checkpoint", default=None, help="also time this trained checkpoint")
    p.add_argument("--res", default="720p,1080p,4k", help=f"from {sorted(RESOLUTIONS)} or HxW")
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--batch", type=int, default=1, help="frame pairs per pass")
    p.add_argument("--scale", type=float, default=1.0, help="flow at this scale (0.5, 0.25)")
    p.add_argument("--repeats", type=int, default=20, help="most timed passes per setting")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per setting")
    p.add_argument(
        "--scan-config", default=None, help="BLOCK_D,BLOCK_L,WARPS of the Triton scan forward"
    )
    p.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip timing the feature extractor alone",
    )
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.quick else "cpu")
    if args.quick:
        args.models = "vfimamba_tiny,vfiflow_conv_tiny"
        args.res, args.repeats, args.seconds = "64x96", 2, 1.0
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes: let cuDNN pick conv algorithms
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.scan_config:
        from worldssm.kernels.selective_scan import triton_scan

        triton_scan.FWD_CONFIG = tuple(int(v) for v in args.scan_config.split(","))
    names = [m for m in args.models.split(",") if m]
    if args.checkpoint:
        names.append(f"checkpoint:{args.checkpoint}")
    sizes = {}
    for r in args.res.split(","):
        sizes[r] = RESOLUTIONS[r] if r in RESOLUTIONS else tuple(int(v) for v in r.split("x"))
    rows = []
    for name in names:
        model = _load(name, args, device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        with torch.inference_mode():
            for res, size in sizes.items():
                for precision in args.precisions.split(","):
                    row = {"model": name, "params_M": params, "res": res}
                    row |= bench_one(model, size, precision, args, device)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        del model
    result = {
        "benchmark": "vfi_speed",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "git_commit": _git_commit(),
        "scan_backend": resolve_backend(device),
        "settings": {
            k: getattr(args, k)
            for k in ("quick", "batch", "scale", "repeats", "seconds", "precisions", "scan_config")
        }
        | {"t": 0.5, "tf32": device.type == "cuda", "cudnn_benchmark": device.type == "cuda"},
        "results": rows,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
