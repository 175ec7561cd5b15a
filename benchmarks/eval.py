"""Evaluation throughput: I3D features for FVD (videos/s) and LPIPS-Alex (frames/s).

python benchmarks/eval.py --device cpu  --out benchmarks/results/eval-cpu.json
python benchmarks/eval.py --device cuda --out benchmarks/results/eval-h100.json

Throughput does not depend on the weights, so networks are randomly initialised: no weight files
are needed. Timings include pre-processing (uint8 -> float, resize to 224 for I3D, range checks)
on the device, but not reading files. Each configuration runs one warm-up batch, then timed
batches one by one (``--repeats`` for I3D, at least 20 for LPIPS); throughput is from the median
batch time, and every batch time is in the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch

from worldssm.eval import AlexNetLPIPS, InceptionI3d, i3d_features, lpips


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, repeats: int, fn) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn``, one by one (median is reported)."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_i3d(device, frames, size, batch, precision, repeats) -> dict:
    """Videos/s of :func:`i3d_features` on uint8 videos ``(batch, frames, 3, size, size)``."""
    model = InceptionI3d().eval().to(device)
    videos = torch.randint(0, 256, (batch, frames, 3, size, size), dtype=torch.uint8, device=device)
    kw = dict(model=model, batch_size=batch, device=device, precision=precision, progress=False)
    i3d_features(videos, **kw)  # warm-up
    times = _timed(device, repeats, lambda: i3d_features(videos, **kw))
    seconds = statistics.median(times)
    return {
        "metric": "i3d_features",
        "frames": frames,
        "input_size": size,
        "resized_to": 224,
        "batch": batch,
        "precision": precision,
        "batch_seconds": [round(t, 4) for t in times],
        "videos_per_s": round(batch / seconds, 4),
        "frames_per_s": round(batch * frames / seconds, 2),
    }


def bench_lpips(device, size, batch, repeats) -> dict:
    """Frames/s of :func:`lpips` on uint8 frame pairs ``(batch, 3, size, size)``."""
    model = AlexNetLPIPS().to(device)
    a = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    b = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    lpips(a, b, model=model, batch_frames=batch)  # warm-up
    times = _timed(device, repeats, lambda: lpips(a, b, model=model, batch_frames=batch))
    seconds = statistics.median(times)
    return {
        "metric": "lpips_alex",
        "input_size": size,
        "batch": batch,
        "batch_seconds": [round(t, 4) for t in times],
        "frames_per_s": round(batch / seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--repeats", type=int, default=None, help="timed I3D batches per config")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device", file=sys.stderr)
        return 2
    gpu = device.type == "cuda"
    repeats = args.repeats or (10 if gpu else 2)
    torch.backends.cudnn.benchmark = gpu
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = []
    # LPIPS first: after the large I3D allocations the CPU timings of small batches were noisy
    for size, batch in ((64, 256 if gpu else 64), (256, 64 if gpu else 16)):
        r = bench_lpips(device, size, batch, max(repeats, 20))
        print(json.dumps(r), flush=True)
        results.append(r)
    # FVD features: 16-frame clips (common FVD setting) and TECO's 300-frame videos, 64x64 input
    i3d_configs = [(16, 64, 16 if gpu else 4), (300, 64, 4 if gpu else 1)]
    for frames, size, batch in i3d_configs:
        for precision in ("fp32", "bf16") if gpu else ("fp32",):
            r = bench_i3d(device, frames, size, batch, precision, repeats)
            print(json.dumps(r), flush=True)
            results.append(r)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/eval.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": torch.cuda.get_device_name(device) if gpu else "cpu",
        "cpu": _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "note": "other jobs may share this machine; load_average_before is os.getloadavg()",
        "torch": torch.__version__,
        "weights": "random init (throughput does not depend on the weights)",
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
