"""Score a trained model: generate from real context frames, then PSNR/SSIM/LPIPS and FVD.

The bridge from models to :mod:`worldssm.eval.protocols` (which know nothing of models). A
protocol becomes a :class:`Plan` of one or more :class:`Generation` passes (condition on K real
frames, predict N). For each batch of real clips the model predicts, the batch is scored at
once (per-frame metrics, I3D features of real and generated videos) and only the scores are
kept: memory holds one batch of videos plus ``(N, 400)`` features and ``(N, T)`` per-frame
values, whatever the number of videos.

Predictions are quantized to uint8 (like a written video) before scoring, so the numbers are those
``worldssm evaluate --real DIR --fake DIR`` gives on saved predictions.

Unlike the rest of :mod:`worldssm.eval`, this module reads training data (TECO folders with
:class:`worldssm.train.video_folders.VideoFolder`, moving digits) and runs
:func:`worldssm.train.generate.generate`; :mod:`worldssm.eval` does not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from worldssm.eval import protocols as P
from worldssm.eval.video_distance import _autocast, frechet_distance, i3d_features
from worldssm.train.generate import generate

DIGITS = "moving-digits"  # --data value: moving digits generated on the fly (no downloads)


@dataclass(frozen=True)
class Generation:
    """One pass of the model over every video.

    Attributes:
        context: K real frames the model conditions on.
        horizon: N frames it predicts after them.
        fvd: ``(key, L)`` pairs: FVD named ``key`` on the first L frames of real context +
            prediction (the real context is part of the scored video, as in TECO).
        frame_metrics: score the N predicted frames with PSNR/SSIM/LPIPS.
    """

    context: int
    horizon: int
    fvd: tuple[tuple[str, int], ...] = ()
    frame_metrics: bool = False


@dataclass(frozen=True)
class Plan:
    """A protocol as generations. ``fvd_chunk``: FVD mean ± std over chunks of that many videos
    (``None``: all videos as one set); ``horizons``: summary keys ``<metric>@<h>`` over the first h
    predicted frames (Moving-MNIST; empty: one mean over all predicted frames)."""

    protocol: str
    generations: tuple[Generation, ...]
    fvd_chunk: int | None = None
    horizons: tuple[int, ...] = ()
    fvd_rank_deficient_ok: bool = False

    @property
    def clip_length(self) -> int:
        """Frames every real video must have: the longest context + horizon."""
        return max(g.context + g.horizon for g in self.generations)


def make_plan(
    protocol: str,
    context: int | None = None,
    horizons: Sequence[int] | None = None,
    fvd_chunk: int | None = None,
    allow_rank_deficient: bool = False,
) -> Plan:
    """The :class:`Plan` of ``protocol`` (``teco-dmlab``, ``moving-mnist`` or ``custom``).

    ``teco-dmlab`` is fixed (FVD: 36 context + 264 generated, chunks of 256; PSNR/SSIM/LPIPS: the
    156 frames after 144 context). ``moving-mnist`` conditions on 100 and predicts 400/800/1200
    unless ``context`` / ``horizons`` are given; ``custom`` needs both (one horizon).
    """
    if protocol == "teco-dmlab":
        if context is not None or horizons is not None or fvd_chunk is not None:
            raise ValueError(
                "the teco-dmlab protocol fixes its context, horizons and FVD chunks (36+264 for "
                "FVD, 144+156 for PSNR/SSIM/LPIPS, chunks of 256); for other lengths use "
                "--protocol custom --context K --horizon N"
            )
        fvd_context = P.TECO_FVD_CONTEXT
        gens = (
            Generation(fvd_context, P.TECO_FVD_FRAMES - fvd_context, (("fvd", P.TECO_FVD_FRAMES),)),
            Generation(P.TECO_METRIC_CONTEXT, P.TECO_METRIC_FRAMES, frame_metrics=True),
        )
        return Plan(protocol, gens, fvd_chunk=P.TECO_FVD_CHUNK, fvd_rank_deficient_ok=True)
    if protocol == "moving-mnist":
        k = P.MMNIST_CONTEXT if context is None else context
        hs = tuple(sorted(P.MMNIST_HORIZONS if horizons is None else horizons))
        _check_lengths(k, hs)
        gen = Generation(k, hs[-1], tuple((f"fvd@{h}", k + h) for h in hs), frame_metrics=True)
        # As protocols.moving_mnist: all videos in one set, rank deficient below 401 videos.
        return Plan(protocol, (gen,), fvd_chunk, hs, fvd_rank_deficient_ok=True)
    if protocol == "custom":
        if context is None or horizons is None:
            raise ValueError(
                "--protocol custom with --checkpoint needs --context K and --horizon N"
            )
        if len(horizons) != 1:
            raise ValueError(f"--protocol custom takes one --horizon, got {list(horizons)}")
        _check_lengths(context, horizons)
        k, n = context, horizons[0]
        gen = Generation(k, n, (("fvd", k + n),), frame_metrics=True)
        return Plan(protocol, (gen,), fvd_chunk, fvd_rank_deficient_ok=allow_rank_deficient)
    raise ValueError(f"unknown protocol {protocol!r}; choose teco-dmlab, moving-mnist or custom")


def _check_lengths(context: int, horizons: Sequence[int]) -> None:
    if context < 1 or not horizons or min(horizons) < 1:
        raise ValueError(f"need context >= 1 and horizons >= 1, got {context} and {horizons}")


def fvd_skip_reason(plan: Plan, videos: int) -> str | None:
    """Why FVD cannot be computed on ``videos`` videos under ``plan`` (``None``: it can)."""
    if plan.fvd_chunk is not None and videos < plan.fvd_chunk:
        return (
            f"FVD over chunks of {plan.fvd_chunk} videos needs at least {plan.fvd_chunk} "
            f"videos; the data gives {videos}"
        )
    if videos < 2:
        return f"FVD needs at least 2 videos; the data gives {videos}"
    if plan.fvd_chunk is None and not plan.fvd_rank_deficient_ok and videos <= 400:
        return (
            f"FVD needs more videos than I3D features (400) for a full-rank covariance; the data "
            f"gives {videos} (use more videos, --fvd-chunk, or --allow-rank-deficient)"
        )
    return None


# -- data ------------------------------------------------------------------------------------


def detect_format(folder: Path) -> str:
    """TECO folder format of ``folder``: ``teco_mp4`` (mp4 + npz actions), ``mp4`` or
    ``teco_dmlab`` (npz with ``video`` and ``actions``)."""
    mp4 = next(folder.rglob("*.mp4"), None)
    if mp4 is not None:
        return "teco_mp4" if mp4.with_suffix(".npz").is_file() else "mp4"
    if next(folder.rglob("*.npz"), None) is not None:
        return "teco_dmlab"
    raise FileNotFoundError(f"no .npz or .mp4 videos under {folder}")


class FolderClips(torch.utils.data.Dataset):
    """The first ``length`` frames of every video of a TECO-format folder, in file order.

    Items: ``{"frames": uint8 (T, C, H, W), "actions": int64 (T,)}`` (actions where the files
    have them). The folder is opened with :class:`~worldssm.train.video_folders.VideoFolder`
    (same formats and checks as training); unlike training, each file gives one clip, from its
    first frame, so every model sees the same videos.
    """

    def __init__(self, root: str | Path, length: int, split: str | None = None, limit=None):
        from worldssm.train.video_folders import VideoFolder

        base = Path(root) / split if split else Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"data folder not found: {base}")
        self.fmt = detect_format(base)
        self.folder = VideoFolder(root, length, fmt=self.fmt, split=split)
        self.files = self.folder.files[:limit] if limit else self.folder.files
        self.length = length

    def __len__(self) -> int:
        return len(self.files)

    def _too_short(self, path: Path, n: int) -> ValueError:
        return ValueError(
            f"{path} has {n} frames, but this protocol needs {self.length} (context + horizon); "
            "use longer videos or a shorter --context/--horizon with --protocol custom"
        )

    def __getitem__(self, i: int) -> dict:
        from worldssm.train import video_folders as vf

        path, actions = self.files[i], None
        if self.fmt == "teco_dmlab":
            data = vf._read_npz(path)
            if "video" not in data:
                raise ValueError(f"{path} has no 'video' array (keys: {sorted(data)})")
            video, actions = data["video"], data.get("actions")
            if len(video) < self.length:
                raise self._too_short(path, len(video))
            video = video[: self.length]
        else:
            n = vf._num_frames(path)
            if n < self.length:
                raise self._too_short(path, n)
            video = vf._read_mp4(path, 0, self.length)
            if self.fmt == "teco_mp4":
                actions = vf._read_npz(path.with_suffix(".npz")).get("actions")
        if video.ndim == 3:  # grey (T, H, W)
            video = video[..., None]
        item = {"frames": torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2)}
        if actions is not None:
            item["actions"] = torch.from_numpy(np.asarray(actions[: self.length])).long()
        return item


class DigitsClips(torch.utils.data.Dataset):
    """``count`` moving-digits videos of ``length`` frames as uint8 ``(T, 1, S, S)``."""

    def __init__(self, count: int, length: int, image_size: int, seed: int, **digits_kwargs):
        from worldssm.train.moving_digits import MovingDigits

        self.count = count
        self.digits = MovingDigits(length, image_size, seed=seed, **digits_kwargs)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        frames = self.digits[i]["frames"]
        return {"frames": (frames * 255).round().clamp(0, 255).to(torch.uint8)}


# -- generation and scoring -------------------------------------------------------------------


@dataclass
class ModelScores:
    """Result of :func:`evaluate_model`: ``summary`` numbers, per-frame values of the generation
    scored frame by frame, and the first videos (real, real context + prediction) for a grid."""

    summary: dict
    frames: P.FrameMetrics | None
    grid_real: torch.Tensor | None = None
    grid_fake: torch.Tensor | None = None
    videos: int = 0


def _to_uint8(pred: torch.Tensor) -> torch.Tensor:
    return (pred.float().clamp(0, 1) * 255).round().to(torch.uint8)


def _check_batch(model, batch: dict, plan: Plan) -> None:
    cfg = model.cfg
    want = (cfg.image_channels, cfg.image_size, cfg.image_size)
    got = tuple(batch["frames"].shape[-3:])
    if got != want:
        raise ValueError(
            f"the data's frames are (C, H, W) = {got} but the model takes {want}; evaluate on "
            "data like the model was trained on"
        )
    if cfg.action_dim:
        if "actions" not in batch:
            raise ValueError(
                f"the model is action-conditioned (action_dim={cfg.action_dim}) but the data "
                "has no actions; use a TECO folder whose files hold 'actions'"
            )
        top = int(batch["actions"].max())
        if top >= cfg.action_dim or int(batch["actions"].min()) < 0:
            raise ValueError(f"actions must be in [0, {cfg.action_dim}); the data has {top}")
        if batch["actions"].shape[1] < plan.clip_length - 1:
            raise ValueError(
                f"the data has {batch['actions'].shape[1]} actions per video; the protocol "
                f"needs {plan.clip_length - 1}"
            )


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    clips: torch.utils.data.Dataset,
    plan: Plan,
    metrics: Sequence[str] = ("psnr", "ssim", "lpips", "fvd"),
    gen_batch_size: int = 16,
    batch_size: int = 4,
    device: str | torch.device | None = None,
    precision: str = "auto",
    lpips_model: torch.nn.Module | None = None,
    i3d_model: torch.nn.Module | None = None,
    num_workers: int = 0,
    grid_videos: int = 4,
    progress: bool = True,
) -> ModelScores:
    """Generate every video of ``clips`` under ``plan`` and score it, batch by batch.

    Args:
        model: a frame predictor (:mod:`worldssm.models.base`), on ``device``, eval mode.
        clips: items ``{"frames": uint8 (T, C, H, W), "actions"?: (T,)}`` with
            ``T >= plan.clip_length`` (:class:`FolderClips`, :class:`DigitsClips`).
        metrics: any of ``psnr``, ``ssim``, ``lpips``, ``fvd``.
        gen_batch_size: videos generated at once (read, predicted and scored, then dropped).
        batch_size: videos per I3D / LPIPS forward pass within a generated batch.
        precision: ``auto`` (bf16 autocast on CUDA for generation and I3D), ``fp32`` or ``bf16``.
        lpips_model, i3d_model: the networks (see :func:`~worldssm.eval.perceptual.
            get_lpips_model`, :func:`~worldssm.eval.i3d.load_i3d`); needed for those metrics.

    Returns:
        :class:`ModelScores`; ``summary`` holds ``psnr``/``ssim``/``lpips`` means (or
        ``<metric>@<h>`` per horizon) and the FVD entries of the plan.
    """
    if not callable(getattr(model, "step", None)) or not hasattr(model, "cfg"):
        raise ValueError(
            f"{type(model).__name__} is not a frame predictor (no cfg / step(state, frame)); "
            "evaluate takes ConvS5 / ConvLSTM / frame Transformer checkpoints"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    frame_names = [m for m in metrics if m in P.FRAME_METRICS]
    use_fvd = "fvd" in metrics
    if "lpips" in frame_names and lpips_model is None:
        raise ValueError("LPIPS needs lpips_model (worldssm.eval.perceptual.get_lpips_model)")
    if use_fvd and i3d_model is None:
        raise ValueError("FVD needs i3d_model (worldssm.eval.i3d.load_i3d)")
    # Generations with something to score (TECO without FVD runs only the 144-frame one).
    active = [
        g for g in plan.generations if (use_fvd and g.fvd) or (frame_names and g.frame_metrics)
    ]
    if not active:
        raise ValueError(f"nothing to compute: metrics {list(metrics)} under {plan.protocol}")
    scored = next((g for g in active if frame_names and g.frame_metrics), active[-1])
    feats: dict[str, tuple[list, list]] = {}
    grid: tuple[list, list] = ([], [])
    values: dict[str, list[torch.Tensor]] = {m: [] for m in frame_names}
    out = ModelScores({}, None)
    loader = torch.utils.data.DataLoader(clips, gen_batch_size, num_workers=num_workers)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(clips), desc="evaluate", unit="video", disable=not progress)
    for batch in loader:
        if out.videos == 0:
            _check_batch(model, batch, plan)
        real = batch["frames"][:, : plan.clip_length].to(device)
        actions = batch.get("actions") if model.cfg.action_dim else None
        for gen in active:
            k, n = gen.context, gen.horizon
            acts = None if actions is None else actions[:, : k + n - 1].to(device)
            with _autocast(device, precision):
                pred = generate(model, real[:, :k].float() / 255, n, acts)
            fake = torch.cat([real[:, :k], _to_uint8(pred)], dim=1)  # (B, K + N, C, H, W)
            for key, length in gen.fvd if use_fvd else ():
                kw = dict(model=i3d_model, batch_size=batch_size, device=device)
                kw.update(precision=precision, progress=False)
                pair = feats.setdefault(key, ([], []))
                pair[0].append(i3d_features(real[:, :length], **kw))
                pair[1].append(i3d_features(fake[:, :length], **kw))
            if frame_names and gen.frame_metrics:
                fm = P.frame_metrics(
                    real[:, k : k + n],
                    fake[:, k:],
                    frame_names,
                    batch_size=batch_size,
                    lpips_model=lpips_model,
                    device=device,
                    progress=False,
                )
                for m in frame_names:
                    values[m].append(fm.values[m])
            if gen is scored and out.videos < grid_videos:  # the first videos, for grid.mp4
                take = grid_videos - out.videos
                grid[0].append(real[:take, : k + n].cpu())
                grid[1].append(fake[:take].cpu())
        out.videos += real.shape[0]
        bar.update(real.shape[0])
    bar.close()
    if out.videos == 0:
        raise ValueError("the data holds no videos")
    out.grid_real, out.grid_fake = torch.cat(grid[0]), torch.cat(grid[1])
    if values and all(values.values()):
        out.frames = P.FrameMetrics({m: torch.cat(v) for m, v in values.items()}, scored.context)
        if plan.horizons:
            for h in plan.horizons:
                out.summary.update({f"{m}@{h}": v for m, v in out.frames.summary(h).items()})
        else:
            out.summary.update(out.frames.summary())
    for key, (f_real, f_fake) in feats.items():
        out.summary[key] = _fvd_entry(torch.cat(f_real), torch.cat(f_fake), plan)
    return out


def _fvd_entry(f_real: torch.Tensor, f_fake: torch.Tensor, plan: Plan) -> dict:
    if plan.fvd_chunk is not None:
        return P.fvd_chunks_from_features(f_real, f_fake, plan.fvd_chunk)
    value = frechet_distance(f_real, f_fake, allow_rank_deficient=plan.fvd_rank_deficient_ok)
    return {"value": value, "videos": int(f_real.shape[0])}
