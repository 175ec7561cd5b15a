"""Fréchet Video Distance (Unterthiner et al. 2018): I3D features and the Fréchet distance.

Pre-processing follows TECO / the reference FVD: frames are resized to 224x224 (bilinear, no
crop, no antialiasing, like ``tf.image.resize_bilinear``), scaled to ``[-1, 1]``, grey repeated
to RGB, and the 400 Kinetics logits of I3D are the features. The distance is computed in float64
with a symmetric eigendecomposition (a stable matrix square root for positive semi-definite
covariances).

Features are extracted batch by batch from a video source (a tensor or a lazy
:class:`~worldssm.eval.video_io.VideoFolder`), so memory holds one batch of frames plus an
``(N, 400)`` feature matrix, whatever the number and length of the videos.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from worldssm.eval._inputs import to_pm1
from worldssm.eval.i3d import load_i3d
from worldssm.eval.video_io import VideoSource, iter_batches, source_len
from worldssm.eval.weights import find_i3d_weights

RESOLUTION = 224
KINETICS_CLASSES = 400  # I3D logits: the FVD feature size


def preprocess_i3d(
    videos: torch.Tensor, data_range: float | None = None, resolution: int = RESOLUTION
) -> torch.Tensor:
    """Videos ``(B, T, C, H, W)`` (uint8, or float with ``data_range``; C = 1 or 3) -> I3D input
    ``(B, 3, T, resolution, resolution)`` float32 in ``[-1, 1]``."""
    if videos.dim() != 5 or videos.shape[2] not in (1, 3):
        raise ValueError(
            f"videos must be (B, T, C, H, W) with C = 1 or 3, got {tuple(videos.shape)}"
        )
    b, t, c, h, w = videos.shape
    x = to_pm1(videos, data_range, "videos").reshape(b * t, c, h, w)
    if (h, w) != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    x = x.reshape(b, t, c, resolution, resolution).transpose(1, 2)
    return x.expand(-1, 3, -1, -1, -1) if c == 1 else x


def _uses_bf16(device: torch.device, precision: str) -> bool:
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def _autocast(device: torch.device, precision: str):
    if _uses_bf16(device, precision):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


_MODELS: dict[tuple[str, str], nn.Module] = {}


def _load_cached(weights: Path, device: torch.device) -> nn.Module:
    """:func:`load_i3d`, kept in memory per (weights file, device)."""
    key = (_model_id(weights), str(device))
    if key not in _MODELS:
        _MODELS.clear()  # one I3D at a time is plenty
        _MODELS[key] = load_i3d(weights, device)
    return _MODELS[key]


def _cache_file(cache_dir, source, model_id: str, data_range, resolution, precision) -> Path | None:
    if cache_dir is None:
        return None
    h = hashlib.sha256(repr((model_id, data_range, resolution, precision)).encode())
    if hasattr(source, "fingerprint"):
        key = source.fingerprint()
        if key is None:
            return None
        h.update(key.encode())
    elif isinstance(source, torch.Tensor):
        h.update(repr((tuple(source.shape), source.dtype)).encode())
        for video in source:  # one video at a time: no copy of the whole tensor
            h.update(video.detach().cpu().contiguous().view(torch.uint8).numpy().data)
    else:
        return None  # an arbitrary sequence has no cheap identity: do not cache
    return Path(cache_dir) / f"i3d-features-{h.hexdigest()[:24]}.pt"


def _model_id(weights: Path) -> str:
    st = weights.stat()
    return f"{weights.resolve()}|{st.st_size}|{st.st_mtime_ns}"


@torch.inference_mode()
def i3d_features(
    videos: VideoSource,
    model: nn.Module | None = None,
    i3d_weights: str | os.PathLike | None = None,
    data_range: float | None = None,
    batch_size: int = 4,
    device: str | torch.device | None = None,
    precision: str = "auto",
    resolution: int = RESOLUTION,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """I3D logits of every video of a source.

    Args:
        videos: tensor ``(N, T, C, H, W)`` or a sequence of ``(T, C, H, W)`` videos (``T >= 9``).
        model: a network mapping ``(B, 3, T, 224, 224)`` in ``[-1, 1]`` to ``(B, D)``, used as
            is (features of a given model are never cached); by default
            :func:`~worldssm.eval.i3d.load_i3d` of ``i3d_weights`` (searched when ``None``; a
            clear error names the missing file).
        data_range: value of white for float videos; ``None`` for uint8.
        batch_size: videos per forward pass.
        device: default: the model's device if a model is given, else ``cuda`` when
            available, else ``cpu``.
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on CPU), ``"fp32"`` or ``"bf16"``.
        resolution: frame size fed to I3D (224 for FVD).
        cache_dir: if set, features are saved there and reused when the same videos (folder
            fingerprint or tensor contents), weights and settings come again.
        progress: show a tqdm progress bar.

    Returns:
        float64 tensor ``(N, D)`` on the CPU.
    """
    if device is None and model is not None:
        device = next((p.device for p in model.parameters()), None)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cache = None
    if model is None:  # an in-memory model has no stable identity: only named weights are cached
        weights = find_i3d_weights(i3d_weights)
        effective = "bf16" if _uses_bf16(device, precision) else "fp32"
        cache = _cache_file(
            cache_dir, videos, _model_id(weights), data_range, resolution, effective
        )
        if cache is not None and cache.is_file():
            return torch.load(cache, map_location="cpu", weights_only=True)
        model = _load_cached(weights, device)
    n = source_len(videos)
    feats = []
    from tqdm.auto import tqdm

    with tqdm(total=n, desc="I3D features", unit="video", disable=not progress) as bar:
        for batch in iter_batches(videos, batch_size):
            x = preprocess_i3d(batch.to(device, non_blocking=True), data_range, resolution)
            with _autocast(device, precision):
                out = model(x)
            feats.append(out.double().cpu())
            bar.update(batch.shape[0])
    feats = torch.cat(feats) if feats else torch.empty(0, 0, dtype=torch.float64)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(feats, cache.with_suffix(".tmp"))
        os.replace(cache.with_suffix(".tmp"), cache)
    return feats


def _sqrt_psd(mat: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    vals, vecs = torch.linalg.eigh((mat + mat.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def gaussian_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of features ``(N, D)``, in float64."""
    feats = torch.as_tensor(feats).double()
    if feats.dim() != 2 or feats.shape[0] < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got {tuple(feats.shape)}")
    mu = feats.mean(0)
    centred = feats - mu
    return mu, centred.T @ centred / (feats.shape[0] - 1)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)`` in float64.

    The trace term equals ``tr((S1 S2)^1/2)`` and is computed from the eigenvalues of the
    symmetric PSD matrix ``S1^1/2 S2 S1^1/2`` (no complex round-off as with a general sqrtm).
    """
    mu1, mu2 = torch.as_tensor(mu1).double(), torch.as_tensor(mu2).double()
    s1, s2 = torch.as_tensor(sigma1).double(), torch.as_tensor(sigma2).double()
    root1 = _sqrt_psd(s1)
    middle = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0)
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * eig.sqrt().sum()
    return float(value.clamp(min=0))


def _check_rank(n: int, d: int, name: str, allow_rank_deficient: bool) -> None:
    if n < 2:
        raise ValueError(f"FVD needs at least 2 {name} videos, got {n}")
    if n <= d and not allow_rank_deficient:
        raise ValueError(
            f"FVD needs more {name} videos than feature dimensions for a full-rank "
            f"covariance: got {n} videos for {d} features (need at least {d + 1}). Use more "
            "videos, or pass allow_rank_deficient=True to reproduce a protocol that uses "
            "fewer (e.g. TECO's chunks of 256)."
        )


def frechet_distance(
    feats1: torch.Tensor, feats2: torch.Tensor, allow_rank_deficient: bool = False
) -> float:
    """Fréchet distance between Gaussians fitted to features ``(N1, D)`` and ``(N2, D)``.

    A full-rank covariance needs more samples than feature dimensions (``N > D``; 401 videos for
    I3D's 400 logits). With fewer the estimate is rank deficient and biased, so it raises
    ``ValueError`` unless ``allow_rank_deficient=True`` (TECO, for one, reports FVD over chunks
    of 256 videos).
    """
    for name, f in (("real", feats1), ("fake", feats2)):
        if f.dim() != 2:
            raise ValueError(f"{name} features must be (N, D), got {tuple(f.shape)}")
        _check_rank(*f.shape, name, allow_rank_deficient)
    if feats1.shape[1] != feats2.shape[1]:
        raise ValueError(f"feature sizes differ: {feats1.shape[1]} vs {feats2.shape[1]}")
    return frechet_distance_from_stats(*gaussian_stats(feats1), *gaussian_stats(feats2))


def fvd(
    real: VideoSource,
    fake: VideoSource,
    data_range: float | None = None,
    allow_rank_deficient: bool = False,
    **feature_kwargs,
) -> float:
    """FVD between two sets of videos ``(N, T, C, H, W)`` (tensors or lazy sequences).

    ``feature_kwargs`` go to :func:`i3d_features` (``model``, ``i3d_weights``, ``batch_size``,
    ``device``, ``precision``, ``cache_dir``, ``progress``). See :func:`frechet_distance` for
    ``allow_rank_deficient``.

    Example:
        >>> fvd(real_videos, fake_videos, i3d_weights="i3d_pretrained_400.pt")  # doctest: +SKIP
    """
    if feature_kwargs.get("model") is None:  # fail before hours of feature extraction
        for name, source in (("real", real), ("fake", fake)):
            _check_rank(source_len(source), KINETICS_CLASSES, name, allow_rank_deficient)
    f_real = i3d_features(real, data_range=data_range, **feature_kwargs)
    f_fake = i3d_features(fake, data_range=data_range, **feature_kwargs)
    return frechet_distance(f_real, f_fake, allow_rank_deficient)
