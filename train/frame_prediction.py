"""Frame-prediction objective and data wiring shared by the trainer and the predict command."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from worldssm.train.config import DataConfig


def frame_loss(pred: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Teacher-forced loss of the paper: 0.5 MSE + 0.5 L1 of pred[:, t] against frames[:, t+1].

    pred, frames: (B, T, C, H, W).
    """
    p, target = pred[:, :-1].float(), frames[:, 1:].float()
    return 0.5 * F.mse_loss(p, target) + 0.5 * F.l1_loss(p, target)


def build_dataset(cfg: DataConfig, seq_len: int | None = None, seed: int = 0):
    """The dataset named by ``cfg.kind`` with clips of ``seq_len`` (default ``cfg.seq_len``)."""
    seq_len = seq_len or cfg.seq_len
    if cfg.kind == "moving_digits":
        from worldssm.train.moving_digits import MovingDigits

        return MovingDigits(
            seq_len=seq_len,
            image_size=cfg.image_size,
            num_digits=cfg.num_digits,
            mnist_path=cfg.mnist_path,
            seed=seed,
        )
    if cfg.kind in ("teco_dmlab", "teco_mp4", "mp4"):
        from worldssm.train.video_folders import VideoFolder

        if not cfg.root:
            raise ValueError(f"data.kind={cfg.kind} needs data.root (the dataset folder)")
        return VideoFolder(cfg.root, seq_len, fmt=cfg.kind, split=cfg.split, seed=seed)
    raise ValueError(f"unknown data.kind {cfg.kind!r}")


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches of sample ids for steps ``start``..``stop-1``: step s, rank r gets ids
    ``s*B*W + r*B + j``, so data order depends only on the step (resumable, DDP-disjoint)."""

    def __init__(self, batch_size: int, start: int, stop: int, rank: int = 0, world: int = 1):
        self.b, self.start, self.stop, self.rank, self.world = batch_size, start, stop, rank, world

    def __iter__(self):
        for s in range(self.start, self.stop):
            base = s * self.b * self.world + self.rank * self.b
            yield list(range(base, base + self.b))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
