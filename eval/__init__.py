"""Evaluation: PSNR, SSIM, LPIPS and FVD, protocols, reports and plots.

Metrics take frames ``(..., C, H, W)`` (videos ``(B, T, C, H, W)``) as ``uint8`` or as floats with
an explicit ``data_range``, and return one value per frame (FVD: one value per pair of sets)::

    from worldssm.eval import psnr, ssim, lpips, fvd
    psnr(fake, real)                  # uint8 (B, T, 3, H, W) -> (B, T)
    ssim(fake, real, data_range=1.0)  # float in [0, 1]
    lpips(fake, real)                 # needs AlexNet weights: python -m worldssm.eval.weights
    fvd(real, fake, i3d_weights="i3d_pretrained_400.pt")

Protocols (:mod:`worldssm.eval.protocols`): :func:`teco_fvd`, :func:`teco_frame_metrics`,
:func:`moving_mnist`, :func:`frame_metrics` (per-frame curves); :func:`write_report` writes
``metrics.json``, a per-frame CSV, a metric-vs-horizon PNG and a real-vs-predicted mp4 grid.

This package stands on torch and its own libraries only: it never imports models or training.
"""

from worldssm.eval.i3d import InceptionI3d, load_i3d
from worldssm.eval.perceptual import AlexNetLPIPS, lpips
from worldssm.eval.pixel import psnr, ssim
from worldssm.eval.protocols import (
    frame_metrics,
    fvd_chunks,
    moving_mnist,
    teco_frame_metrics,
    teco_fvd,
)
from worldssm.eval.report import write_report
from worldssm.eval.video_distance import frechet_distance, fvd, i3d_features, preprocess_i3d
from worldssm.eval.video_io import VideoFolder, read_video, write_mp4
from worldssm.eval.weights import WeightsNotFoundError, find_alexnet_weights, find_i3d_weights

__all__ = [
    "AlexNetLPIPS",
    "InceptionI3d",
    "VideoFolder",
    "WeightsNotFoundError",
    "find_alexnet_weights",
    "find_i3d_weights",
    "frame_metrics",
    "fvd_chunks",
    "frechet_distance",
    "fvd",
    "i3d_features",
    "load_i3d",
    "lpips",
    "moving_mnist",
    "preprocess_i3d",
    "psnr",
    "read_video",
    "ssim",
    "teco_frame_metrics",
    "teco_fvd",
    "write_mp4",
    "write_report",
]
