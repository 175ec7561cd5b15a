"""Evaluation protocols: which frames are scored, and how results are aggregated.

Protocols are plain functions over two video sources (``real`` and ``fake``: tensors
``(N, T, C, H, W)`` or lazy sequences of ``(T, C, H, W)`` videos, see
:mod:`worldssm.eval.video_io`); they know nothing of models. Video ``i`` of ``fake`` is the
prediction for video ``i`` of ``real``.

- TECO (Yan et al. 2023): FVD on 300-frame videos, 36 real context frames + 264 generated (the
  real context is part of the scored video), mean ± std over chunks of 256 videos;
  PSNR/SSIM/LPIPS on the 156 frames after 144 context frames.
- Moving-MNIST (ConvS5, Smith et al. 2023): condition on 100 frames, predict 400/800/1200;
  grey frames are repeated to RGB for FVD and LPIPS.
- :func:`frame_metrics` gives per-frame curves over the horizon for any protocol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from worldssm.eval.perceptual import AlexNetLPIPS, get_lpips_model, lpips
from worldssm.eval.pixel import psnr, ssim
from worldssm.eval.video_distance import frechet_distance, fvd, i3d_features
from worldssm.eval.video_io import VideoSource, iter_batches, source_len

FRAME_METRICS = ("psnr", "ssim", "lpips")

TECO_FVD_FRAMES, TECO_FVD_CONTEXT, TECO_FVD_CHUNK = 300, 36, 256
TECO_METRIC_CONTEXT, TECO_METRIC_FRAMES = 144, 156
MMNIST_CONTEXT, MMNIST_HORIZONS = 100, (400, 800, 1200)


def _combine(kind: str, arg, *sources) -> str | None:
    """Cache key of a lazy view: its kind and argument, and the keys of the sources it views."""
    keys = [s.fingerprint() if hasattr(s, "fingerprint") else None for s in sources]
    if any(k is None for k in keys):
        return None
    return hashlib.sha256(repr((kind, arg, keys)).encode()).hexdigest()


class WithContext(Sequence):
    """Fake videos with the real context frames pasted in front, built one video at a time.

    Item ``i`` is ``real[i][:context]`` followed by the generated frames of ``fake[i]``: its
    frames ``context:`` if it has as many frames as the real video (the fake video includes the
    context), else all of it (only generated frames).
    """

    def __init__(self, real: VideoSource, fake: VideoSource, context: int) -> None:
        if source_len(real) != source_len(fake):
            raise ValueError(f"{source_len(real)} real videos but {source_len(fake)} fake ones")
        self.real, self.fake, self.context = real, fake, context

    def __len__(self) -> int:
        return source_len(self.real)

    def fingerprint(self) -> str | None:
        return _combine("context", self.context, self.real, self.fake)

    def __getitem__(self, i: int) -> torch.Tensor:
        real, fake = self.real[i], self.fake[i]
        generated = fake[self.context :] if fake.shape[0] == real.shape[0] else fake
        return torch.cat([real[: self.context], generated.to(real.dtype)])


class Frames(Sequence):
    """Frames ``start:stop`` of every video of a source, lazily."""

    def __init__(self, source: VideoSource, start: int, stop: int | None = None) -> None:
        self.source, self.start, self.stop = source, start, stop

    def __len__(self) -> int:
        return source_len(self.source)

    def fingerprint(self) -> str | None:
        return _combine("frames", (self.start, self.stop), self.source)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.source[i][self.start : self.stop]


@dataclass
class FrameMetrics:
    """Per-frame scores: ``values[name]`` is ``(N, T)`` (video, scored frame)."""

    values: dict[str, torch.Tensor]
    first_frame: int = 0  # index in the full video of the first scored frame
    extra: dict = field(default_factory=dict)

    def curves(self) -> dict[str, torch.Tensor]:
        """Mean over videos per frame, ``(T,)`` per metric."""
        return {k: v.mean(0) for k, v in self.values.items()}

    def curve_stds(self) -> dict[str, torch.Tensor]:
        """Standard deviation over videos per frame, ``(T,)`` per metric."""
        return {
            k: v.std(0) if v.shape[0] > 1 else torch.zeros_like(v[0])
            for k, v in self.values.items()
        }

    def summary(self, horizon: int | None = None) -> dict[str, float]:
        """Mean over videos and the first ``horizon`` scored frames (all when ``None``)."""
        return {k: float(v[:, :horizon].mean()) for k, v in self.values.items()}


@torch.no_grad()
def frame_metrics(
    real: VideoSource,
    fake: VideoSource,
    metrics: Sequence[str] = FRAME_METRICS,
    data_range: float | None = None,
    batch_size: int = 8,
    lpips_model: AlexNetLPIPS | None = None,
    alexnet_weights=None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> FrameMetrics:
    """PSNR / SSIM / LPIPS of every frame of every video pair.

    Args:
        real, fake: sources of equally shaped videos ``(T, C, H, W)``.
        metrics: any of ``"psnr"``, ``"ssim"``, ``"lpips"``.
        data_range: value of white for float videos; ``None`` for uint8.
        batch_size: videos held in memory at once.
        lpips_model: LPIPS network (default: the real one, see :mod:`worldssm.eval.weights`).
        device: where the metrics run (default ``cuda`` when available).

    Returns:
        :class:`FrameMetrics` with ``(N, T)`` float64 values per metric.
    """
    unknown = set(metrics) - set(FRAME_METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {FRAME_METRICS}")
    n = source_len(real)
    if source_len(fake) != n:
        raise ValueError(f"{n} real videos but {source_len(fake)} fake ones")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if "lpips" in metrics and lpips_model is None:
        lpips_model = get_lpips_model(alexnet_weights, device)
    out: dict[str, list[torch.Tensor]] = {m: [] for m in metrics}
    from tqdm.auto import tqdm

    pairs = zip(iter_batches(real, batch_size), iter_batches(fake, batch_size), strict=True)
    with tqdm(total=n, desc="frame metrics", unit="video", disable=not progress) as bar:
        for r, f in pairs:
            if r.shape != f.shape:
                raise ValueError(f"real and fake videos differ in shape: {r.shape} vs {f.shape}")
            r, f = r.to(device), f.to(device)
            if "psnr" in metrics:
                out["psnr"].append(psnr(f, r, data_range).cpu())
            if "ssim" in metrics:
                out["ssim"].append(ssim(f, r, data_range).cpu())
            if "lpips" in metrics:
                out["lpips"].append(lpips(f, r, data_range, model=lpips_model).double().cpu())
            bar.update(r.shape[0])
    return FrameMetrics({m: torch.cat(v) for m, v in out.items()})


def fvd_chunks(
    real: VideoSource,
    fake: VideoSource,
    chunk: int = TECO_FVD_CHUNK,
    **feature_kwargs,
) -> dict:
    """FVD per consecutive chunk of ``chunk`` video pairs, with mean and (population) std.

    Videos beyond the last full chunk are left out (their number is reported). Chunks of fewer
    videos than feature dimensions (TECO: 256 < 400) give rank-deficient covariances; that is
    the protocol, so it is allowed here. ``feature_kwargs`` go to
    :func:`~worldssm.eval.video_distance.i3d_features`.

    Returns:
        ``{"mean", "std", "chunks": [...], "chunk_size", "videos_used", "videos_dropped"}``.
    """
    n = source_len(real)
    if source_len(fake) != n:
        raise ValueError(f"{n} real videos but {source_len(fake)} fake ones")
    if n < chunk:
        raise ValueError(f"FVD over chunks of {chunk} videos needs at least {chunk}, got {n}")
    used = n - n % chunk
    f_real = i3d_features(_Take(real, used), **feature_kwargs)
    f_fake = i3d_features(_Take(fake, used), **feature_kwargs)
    result = fvd_chunks_from_features(f_real, f_fake, chunk)
    result["videos_dropped"] = n - used
    return result


def fvd_chunks_from_features(f_real: torch.Tensor, f_fake: torch.Tensor, chunk: int) -> dict:
    """:func:`fvd_chunks` on features ``(N, D)`` already extracted (e.g. batch by batch while
    generating); rows beyond the last full chunk are left out."""
    n = f_real.shape[0]
    if f_fake.shape[0] != n:
        raise ValueError(f"{n} real feature rows but {f_fake.shape[0]} fake ones")
    if n < chunk:
        raise ValueError(f"FVD over chunks of {chunk} videos needs at least {chunk}, got {n}")
    used = n - n % chunk
    values = [
        frechet_distance(f_real[i : i + chunk], f_fake[i : i + chunk], allow_rank_deficient=True)
        for i in range(0, used, chunk)
    ]
    t = torch.tensor(values, dtype=torch.float64)
    return {
        "mean": float(t.mean()),
        "std": float(t.std(unbiased=False)),
        "chunks": values,
        "chunk_size": chunk,
        "videos_used": used,
        "videos_dropped": n - used,
    }


def fvd_summary(
    real: VideoSource,
    fake: VideoSource,
    chunk: int | None = None,
    allow_rank_deficient: bool = False,
    **feature_kwargs,
) -> dict:
    """FVD of all videos as one set (``{"value", "videos"}``), or :func:`fvd_chunks` when
    ``chunk`` is given."""
    if chunk is not None:
        return fvd_chunks(real, fake, chunk, **feature_kwargs)
    value = fvd(real, fake, allow_rank_deficient=allow_rank_deficient, **feature_kwargs)
    return {"value": value, "videos": source_len(real)}


class _Take(Sequence):
    """The first ``n`` videos of a source."""

    def __init__(self, source: VideoSource, n: int) -> None:
        self.source, self.n = source, n

    def __len__(self) -> int:
        return self.n

    def fingerprint(self) -> str | None:
        return _combine("take", self.n, self.source)

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.source[i]


def _check_frames(source: VideoSource, need: int, name: str) -> int:
    t = int(source[0].shape[0])
    if t < need:
        raise ValueError(f"{name} videos have {t} frames; this protocol needs {need}")
    return t


def teco_fvd(
    real: VideoSource, fake: VideoSource, chunk: int = TECO_FVD_CHUNK, **feature_kwargs
) -> dict:
    """TECO's FVD: 300-frame videos, real context 36 frames + 264 generated, chunks of 256.

    ``fake`` videos hold 300 frames (their first 36 are replaced by the real ones) or only the
    264 generated frames. ``chunk`` is TECO's 256 (change it only for tests). Returns
    :func:`fvd_chunks`' dict.
    """
    _check_frames(real, TECO_FVD_FRAMES, "real")
    real300 = Frames(real, 0, TECO_FVD_FRAMES)
    fake300 = Frames(WithContext(real300, fake, TECO_FVD_CONTEXT), 0, TECO_FVD_FRAMES)
    _check_frames(fake300, TECO_FVD_FRAMES, "fake (context + generated)")
    return fvd_chunks(real300, fake300, chunk, **feature_kwargs)


def teco_frame_metrics(real: VideoSource, fake: VideoSource, **kwargs) -> FrameMetrics:
    """TECO's PSNR/SSIM/LPIPS: the 156 frames after 144 context frames.

    ``fake`` videos hold as many frames as the real ones (context included) or only the
    predicted ones. ``kwargs`` go to
    :func:`frame_metrics`.
    """
    stop = TECO_METRIC_CONTEXT + TECO_METRIC_FRAMES
    _check_frames(real, stop, "real")
    t_fake = _check_frames(fake, TECO_METRIC_FRAMES, "fake")
    fake_start = TECO_METRIC_CONTEXT if t_fake == real[0].shape[0] else 0
    result = frame_metrics(
        Frames(real, TECO_METRIC_CONTEXT, stop),
        Frames(fake, fake_start, fake_start + TECO_METRIC_FRAMES),
        **kwargs,
    )
    result.first_frame = TECO_METRIC_CONTEXT
    return result


def moving_mnist(
    real: VideoSource,
    fake: VideoSource,
    context: int = MMNIST_CONTEXT,
    horizons: Sequence[int] = MMNIST_HORIZONS,
    with_fvd: bool = False,
    frame_kwargs: dict | None = None,
    fvd_kwargs: dict | None = None,
) -> tuple[FrameMetrics, dict]:
    """Moving-MNIST: condition on ``context`` frames, score predictions up to each horizon.

    ``real`` holds ``context + max(horizons)`` frames (fewer: the horizons that fit are used);
    ``fake`` as many frames as ``real`` (context included) or only the predicted frames.

    Returns:
        The per-frame metrics of all predicted frames, and a summary
        ``{"<metric>@<h>": mean over the first h predicted frames}``. With ``with_fvd``, also
        ``"fvd@<h>"`` on context + h predicted frames (grey repeated to RGB; all videos in one
        set, rank-deficient when fewer than 401 videos).
    """
    t_real = _check_frames(real, context + min(horizons), "real")
    usable = [h for h in horizons if context + h <= t_real]
    longest = max(usable)
    t_fake = _check_frames(fake, longest, "fake")
    fake_start = context if t_fake == t_real else 0
    result = frame_metrics(
        Frames(real, context, context + longest),
        Frames(fake, fake_start, fake_start + longest),
        **(frame_kwargs or {}),
    )
    result.first_frame = context
    summary = {}
    for h in usable:
        for name, value in result.summary(h).items():
            summary[f"{name}@{h}"] = value
    if with_fvd:
        full = WithContext(real, fake, context)
        for h in usable:
            kw = dict(fvd_kwargs or {})
            f_real = i3d_features(Frames(real, 0, context + h), **kw)
            f_fake = i3d_features(Frames(full, 0, context + h), **kw)
            summary[f"fvd@{h}"] = frechet_distance(f_real, f_fake, allow_rank_deficient=True)
    return result, summary
