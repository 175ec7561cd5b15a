"""Evaluation reports: ``metrics.json``, a per-frame CSV, a metric-vs-horizon plot and a
real-vs-predicted video grid.

::

    report/
      metrics.json      summary numbers (and settings) of the run
      per_frame.csv     frame, <metric>_mean, <metric>_std for every scored frame
      horizon.png       one panel per metric: mean ± std over videos against the frame index
      grid.mp4          rows of videos, real (left) beside predicted (right)
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from worldssm.eval.protocols import FrameMetrics
from worldssm.eval.video_io import VideoSource, iter_batches, write_mp4

LOWER_IS_BETTER = {"lpips", "fvd"}


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # JSON has no inf/nan; PSNR of identical frames is inf
    if isinstance(x, Path):
        return str(x)
    return x


def write_metrics_json(path: str | os.PathLike, metrics: dict) -> None:
    """Write ``metrics`` as indented JSON (tensors become lists, ``inf`` becomes ``"inf"``)."""
    Path(path).write_text(json.dumps(_jsonable(metrics), indent=2, sort_keys=True) + "\n")


def write_per_frame_csv(path: str | os.PathLike, frames: FrameMetrics) -> None:
    """One row per scored frame: its index in the full video, then mean and std per metric."""
    curves, stds = frames.curves(), frames.curve_stds()
    names = sorted(curves)
    length = len(next(iter(curves.values()))) if curves else 0
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame"] + [f"{n}_{s}" for n in names for s in ("mean", "std")])
        for t in range(length):
            row = [frames.first_frame + t]
            for n in names:
                row += [f"{float(curves[n][t]):.6g}", f"{float(stds[n][t]):.6g}"]
            writer.writerow(row)


def plot_horizon(path: str | os.PathLike, frames: FrameMetrics, title: str = "") -> None:
    """Metric-vs-horizon PNG: one panel per metric, mean ± std over videos per frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves, stds = frames.curves(), frames.curve_stds()
    names = sorted(curves)
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.5 * max(len(names), 1), 3.4))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names, strict=False):
        mean = curves[name].double().numpy()
        std = stds[name].double().numpy()
        x = np.arange(len(mean)) + frames.first_frame
        finite = np.isfinite(mean)
        ax.plot(x[finite], mean[finite], lw=1.5)
        ax.fill_between(x[finite], (mean - std)[finite], (mean + std)[finite], alpha=0.25)
        arrow = "lower is better" if name in LOWER_IS_BETTER else "higher is better"
        ax.set(xlabel="frame", ylabel=name.upper(), title=f"{name.upper()} ({arrow})")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _to_uint8_hwc(video: torch.Tensor, data_range: float | None) -> np.ndarray:
    """``(T, C, H, W)`` -> uint8 ``(T, H, W, 3)``."""
    if video.dtype != torch.uint8:
        if data_range is None:
            raise ValueError("float videos need data_range for the video grid")
        video = (video.float() / data_range * 255).round().clamp(0, 255).to(torch.uint8)
    video = video.expand(-1, 3, -1, -1) if video.shape[1] == 1 else video
    return video.permute(0, 2, 3, 1).cpu().numpy()


def write_video_grid(
    path: str | os.PathLike,
    real: VideoSource,
    fake: VideoSource,
    n_videos: int = 4,
    data_range: float | None = None,
    fps: int = 10,
    max_frames: int | None = None,
) -> None:
    """mp4 of ``n_videos`` rows, each the real video (left) beside the prediction (right).

    ``fake`` may be shorter than ``real`` (prediction only): it is aligned to the end of the real
    video, and the frames before it show the real frames with a dark marker bar.
    """
    real_b = next(iter_batches(real, n_videos))
    fake_b = next(iter_batches(fake, n_videos))
    rows = []
    for r, f in zip(real_b, fake_b, strict=True):
        r_np, f_np = _to_uint8_hwc(r, data_range), _to_uint8_hwc(f, data_range)
        if len(f_np) < len(r_np):  # prediction only: show the real context on both sides
            context = r_np[: len(r_np) - len(f_np)].copy()
            context[:, :2] = 0
            f_np = np.concatenate([context, f_np])
        t = min(len(r_np), len(f_np))
        gap = np.full((t, r_np.shape[1], 2, 3), 255, np.uint8)
        rows.append(np.concatenate([r_np[:t], gap, f_np[:t]], axis=2))
    t = min(len(row) for row in rows)
    if max_frames is not None:
        t = min(t, max_frames)
    sep = np.full((t, 2, rows[0].shape[2], 3), 255, np.uint8)
    parts = []
    for i, row in enumerate(rows):
        if i:
            parts.append(sep)
        parts.append(row[:t])
    write_mp4(path, np.concatenate(parts, axis=1), fps=fps)


def write_report(
    out_dir: str | os.PathLike,
    metrics: dict,
    frames: FrameMetrics | None = None,
    real: VideoSource | None = None,
    fake: VideoSource | None = None,
    data_range: float | None = None,
    title: str = "",
) -> Path:
    """Write ``metrics.json`` and, when given, ``per_frame.csv``, ``horizon.png`` and
    ``grid.mp4`` into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics_json(out / "metrics.json", metrics)
    if frames is not None and frames.values:
        write_per_frame_csv(out / "per_frame.csv", frames)
        plot_horizon(out / "horizon.png", frames, title)
    if real is not None and fake is not None:
        write_video_grid(out / "grid.mp4", real, fake, data_range=data_range)
    return out
