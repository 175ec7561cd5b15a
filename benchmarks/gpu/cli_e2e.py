"""`worldssm interpolate` end to end on a real 1080p mp4 (decode, model, encode, audio copy).

Makes a 1080p30 H.264 clip with an AAC track (smooth synthetic motion: drifting gratings and a
moving disc), a VFIMamba-S checkpoint (one training step: the speed does not depend on the
weights, and the shipped checkpoint does not fit the GPU call's upload next to PyAV), then runs
the CLI twice in one process (the first run pays cuDNN autotuning and CUDA-graph capture) and
checks the output: frame count, rate, audio stream.

    python benchmarks/gpu/cli_e2e.py --out cli-e2e.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from worldssm.cli import main as cli
from worldssm.train.config import load_config
from worldssm.train.trainer import train
from worldssm.train.vfi_inference import export_slim


def write_clip(path: Path, frames: int, h: int, w: int, fps: int = 30) -> None:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.height, v.width, v.pix_fmt = h, w, "yuv420p"
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
        for i in range(frames):
            s = i / fps
            r = 0.5 + 0.25 * np.sin((xx + 90 * s) / 37.0) * np.cos((yy - 40 * s) / 53.0)
            g = 0.5 + 0.25 * np.sin((xx * 0.7 + yy * 0.7 - 120 * s) / 29.0)
            cx, cy = w * (0.3 + 0.4 * s / (frames / fps)), h * 0.5 + 150 * math.sin(2 * s)
            disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < 120**2
            b = np.where(disc, 0.9, 0.3 + 0.2 * np.sin(yy / 17.0))
            img = (np.stack([r, g, b], -1) * 255).clip(0, 255).astype(np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, "rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        sr, total = 44100, int(44100 * frames / fps)
        for s0 in range(0, total, 1024):
            k = min(1024, total - s0)
            x = (0.2 * np.sin(2 * np.pi * 440 * np.arange(s0, s0 + k) / sr)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(x[None], format="fltp", layout="mono")
            af.sample_rate = sr
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--size", default="1080x1920")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    root = Path(tempfile.mkdtemp())
    clip = root / "in.mp4"
    t0 = time.perf_counter()
    write_clip(clip, args.frames, h, w)
    make_s = time.perf_counter() - t0
    cfg = load_config(
        "configs/vfimamba_s.yaml",
        {"data": {"kind": "vfi_embedded", "image_size": 64, "world_clips": 0},
         "optim": {"batch_size": 2},
         "run": {"steps": 1, "run_dir": str(root / "run"), "checkpoint_every": 0}},
    )  # fmt: skip
    train(cfg, progress=False)
    ckpt = export_slim(root / "run" / "checkpoint.pt", root / "model.pt")
    runs = []
    for i in range(2):
        out = root / f"out{i}.mp4"
        _sync()
        t0 = time.perf_counter()
        cli(["interpolate", str(clip), str(out), "--factor", "2", "--checkpoint", str(ckpt)])
        _sync()
        secs = time.perf_counter() - t0
        with av.open(str(out)) as c:
            vs = c.streams.video[0]
            n_out = sum(1 for _ in c.decode(vs))
            rate = float(vs.average_rate)
            has_audio = len(c.streams.audio) > 0
            size = (vs.height, vs.width)
        new = n_out - args.frames  # interpolated frames written
        row = dict(run=i, seconds=secs, output_frames=n_out, output_rate=rate, audio=has_audio,
                   size=list(size), interpolated_frames=new, output_frames_per_s=n_out / secs,
                   interpolated_frames_per_s=new / secs)  # fmt: skip
        print(json.dumps(row), flush=True)
        runs.append(row)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    doc = dict(benchmark="worldssm interpolate end to end (1080p H.264 + AAC, --factor 2)",
               device=gpu, torch=torch.__version__, av=av.__version__,
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               command=f"python benchmarks/gpu/cli_e2e.py --frames {args.frames} --size "
               f"{args.size}", input_frames=args.frames, input_fps=30, clip_seconds_to_make=make_s,
               runs=runs)  # fmt: skip
    Path(args.out).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
