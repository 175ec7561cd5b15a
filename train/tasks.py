"""Training tasks: what the trainer feeds a model and how it scores it.

The trainer (:mod:`worldssm.train.trainer`) is task-agnostic; :func:`make_task` picks the task
from ``data.kind``: frame prediction (teacher-forced next-frame loss on clips) or frame
interpolation (triplets, Laplacian L1). A task builds the dataset, computes the loss of one batch,
makes TensorBoard sample images, and optionally validates.
"""

from __future__ import annotations

from pathlib import Path

import torch

from worldssm.train.config import TrainConfig
from worldssm.train.interpolation import TRIPLET_KINDS


class FramePredictionTask:
    """Clips (B, T, C, H, W) -> teacher-forced predictions; 0.5 MSE + 0.5 L1."""

    name = "frame_prediction"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def check(self, model) -> None:
        if model.cfg.image_size != self.cfg.data.image_size:
            raise ValueError(
                f"model image_size {model.cfg.image_size} != data.image_size "
                f"{self.cfg.data.image_size}"
            )

    def dataset(self, seed: int, items_per_step: int):
        from worldssm.train.frame_prediction import build_dataset

        return build_dataset(self.cfg.data, seed=seed)

    def loss(self, net, model, batch: dict, device, amp: bool):
        from worldssm.train.frame_prediction import frame_loss

        frames = batch["frames"].to(device, non_blocking=True)
        actions = batch.get("actions")
        actions = actions.to(device) if actions is not None and model.cfg.action_dim else None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = net(frames, actions=actions)
        return frame_loss(pred, frames), pred

    def samples(self, batch: dict, pred) -> tuple[str, torch.Tensor]:
        strip = torch.cat([batch["frames"][0, 1:9], pred[0, :8].detach().float().cpu()], dim=-1)
        return "samples/real|pred", strip.clamp(0, 1)

    def validation_set(self, device):
        return None

    def validate(self, model, val, device, amp) -> dict:
        return {}


class InterpolationTask:
    """Triplets (img0, img1, gt, t) -> ``model(img0, img1, t)``; Laplacian-pyramid L1.

    Validation: PSNR of the model and of linear blending on ``data.val_size`` fixed held-out
    triplets (held-out images and world; see :mod:`worldssm.train.synthetic_triplets`).
    """

    name = "interpolation"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def check(self, model) -> None:
        m = getattr(model, "pad_multiple", None)
        if m is None:
            raise ValueError(
                f"data.kind={self.cfg.data.kind} trains frame interpolation, but model "
                f"{self.cfg.model['name']!r} is not an interpolation model (no pad_multiple)"
            )
        if self.cfg.data.image_size % m:
            raise ValueError(
                f"data.image_size (the crop, {self.cfg.data.image_size}) must be a multiple of "
                f"the model's pad_multiple {m}"
            )

    def dataset(self, seed: int, items_per_step: int):
        return build_triplet_dataset(self.cfg, seed, items_per_step)

    def loss(self, net, model, batch: dict, device, amp: bool):
        from worldssm.train.interpolation import laplacian_loss

        img0, img1, gt = (batch[k].to(device, non_blocking=True) for k in ("img0", "img1", "gt"))
        t = batch["t"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = net(img0, img1, t)
        return laplacian_loss(pred, gt), pred

    def samples(self, batch: dict, pred) -> tuple[str, torch.Tensor]:
        from worldssm.train.interpolation import sample_strip

        return "samples/img0|gt|pred|img1", sample_strip(batch, pred)

    def validation_set(self, device):
        d = self.cfg.data
        if not (self.cfg.run.val_every and d.val_size):
            return None
        from worldssm.train.synthetic_triplets import heldout_triplets

        items = heldout_triplets(d.val_size, d.image_size, device=device)
        bs = self.cfg.optim.batch_size
        collate = torch.utils.data.default_collate
        return [collate(items[i : i + bs]) for i in range(0, len(items), bs)]

    def validate(self, model, val, device, amp) -> dict:
        from worldssm.train.interpolation import validate

        return validate(model, val, device, amp)


def build_triplet_dataset(cfg: TrainConfig, seed: int, items_per_step: int = 1):
    """The triplet dataset named by ``cfg.data.kind`` with the curriculum of ``cfg.data``."""
    from worldssm.train.interpolation import Curriculum

    d = cfg.data
    cur = Curriculum(d.curriculum_steps, d.curriculum_start)
    if d.kind == "vfi_embedded":
        from worldssm.train.synthetic_triplets import EmbeddedTriplets

        device = "cuda" if torch.cuda.is_available() and cfg.run.device != "cpu" else "cpu"
        return EmbeddedTriplets(
            crop=d.image_size, max_motion=d.max_motion, max_gap=d.max_gap, curriculum=cur,
            world_weight=d.world_weight, world_clips=d.world_clips, clip_len=d.clip_len,
            seed=seed, items_per_step=items_per_step, device=device,
        )  # fmt: skip
    if not d.root:
        raise ValueError(f"data.kind={d.kind} needs data.root (the dataset folder)")
    if d.kind == "vimeo90k":
        from worldssm.train.triplets import VimeoTriplets

        return VimeoTriplets(d.root, split=d.split or "train", crop=d.image_size, seed=seed,
                             length=10_000_000, items_per_step=items_per_step)  # fmt: skip
    from worldssm.train.triplets import VideoTriplets

    # a split subfolder when there is one (root/train), else the folder itself
    root = Path(d.root) / d.split if d.split and (Path(d.root) / d.split).is_dir() else d.root
    return VideoTriplets(root, crop=d.image_size, max_gap=d.max_gap, curriculum=cur, seed=seed,
                         items_per_step=items_per_step)  # fmt: skip


def make_task(cfg: TrainConfig):
    """The task of ``cfg.data.kind`` (interpolation for triplet kinds, else frame prediction)."""
    if cfg.data.kind in TRIPLET_KINDS:
        return InterpolationTask(cfg)
    return FramePredictionTask(cfg)
