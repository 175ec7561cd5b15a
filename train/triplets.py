"""Frame-interpolation triplets: Vimeo90K, any folder of videos, and the shared augmentation.

Every dataset returns dicts ``img0``, ``img1``, ``gt`` (3, H, W) float32 in [0, 1] and ``t``
(a float32 scalar tensor in (0, 1): the time of ``gt`` between ``img0`` at 0 and ``img1`` at 1).
Item ``i`` is a pure function of ``(seed, i)``; with ``items_per_step`` set (the trainer sets it to
batch size x world size) item ``i`` belongs to step ``i // items_per_step``, which drives the
motion curriculum (:class:`~worldssm.train.interpolation.Curriculum`), so resuming at a step
replays the same data. The embedded default data (no downloads) is in
:mod:`worldssm.train.synthetic_triplets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")


def read_image(path: str | Path) -> torch.Tensor:
    """An image file -> (3, H, W) float32 in [0, 1]; clear errors for missing or corrupt files."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except Exception as e:  # PIL raises several types for bad files
        raise ValueError(f"corrupt or unreadable image file: {path} ({e})") from e
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def augment_triplet(
    frames: torch.Tensor, t: float, rng: np.random.Generator, crop: int | None, flips: bool = True
) -> dict:
    """Random crop (same window in all frames), horizontal/vertical flips and temporal reversal.

    Args:
        frames: (3, 3, H, W) = img0, gt, img1 in [0, 1].
        t: time of gt; reversal swaps img0/img1 and returns ``1 - t``.
        crop: output side (None keeps the size); frames smaller than ``crop`` raise ValueError.
    """
    _, _, h, w = frames.shape
    if crop is not None:
        if h < crop or w < crop:
            raise ValueError(f"frames of {h}x{w} are smaller than the crop {crop}; lower the crop")
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        frames = frames[..., y : y + crop, x : x + crop]
    if flips:
        if rng.random() < 0.5:
            frames = frames.flip(-1)
        if rng.random() < 0.5:
            frames = frames.flip(-2)
        if rng.random() < 0.5:  # the same motion played backwards is equally valid data
            frames, t = frames.flip(0), 1.0 - t
    frames = frames.contiguous()
    return {
        "img0": frames[0],
        "gt": frames[1],
        "img1": frames[2],
        "t": torch.tensor(t, dtype=torch.float32),
    }


class StepIndexed(torch.utils.data.Dataset):
    """Base: nominal ``length``, per-item RNG from ``(seed, i)``, step of an item for curricula."""

    def __init__(self, length: int, seed: int, items_per_step: int = 1):
        self.length, self.seed, self.items_per_step = int(length), int(seed), int(items_per_step)

    def __len__(self) -> int:
        return self.length

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(index)])

    def step_of(self, index: int) -> int:
        return int(index) // max(1, self.items_per_step)


class VimeoTriplets(StepIndexed):
    """The Vimeo90K triplet layout: ``root/sequences/<a>/<b>/im1.png..im3.png`` listed in
    ``root/tri_trainlist.txt`` (split ``train``) or ``root/tri_testlist.txt`` (``test``); t = 0.5.

    Training samples a random listed triplet per item; ``augment=False`` (evaluation) returns
    triplet ``i % len(list)`` whole.
    """

    def __init__(self, root, split: str = "train", crop: int | None = 256, augment=True, seed=0,
                 length: int | None = None, items_per_step: int = 1):  # fmt: skip
        root = Path(root)
        listing = root / f"tri_{split}list.txt"
        if not listing.is_file():
            raise FileNotFoundError(
                f"Vimeo90K list file not found: {listing} (expected the triplet layout "
                "root/tri_trainlist.txt, root/tri_testlist.txt, root/sequences/<a>/<b>/im1.png)"
            )
        self.dirs = [root / "sequences" / line.strip() for line in listing.read_text().split("\n")]
        self.dirs = [d for d in self.dirs if d.name]
        if not self.dirs:
            raise ValueError(f"{listing} lists no sequences")
        super().__init__(length or len(self.dirs), seed, items_per_step)
        self.crop, self.augment = crop, augment

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        d = (
            self.dirs[int(rng.integers(len(self.dirs)))]
            if self.augment
            else self.dirs[index % len(self.dirs)]
        )
        frames = torch.stack([read_image(d / f"im{k}.png") for k in (1, 2, 3)])
        if self.augment:
            return augment_triplet(frames, 0.5, rng, self.crop)
        return augment_triplet(frames, 0.5, rng, None, flips=False)


def _video_reader(path: Path):
    try:
        import decord
    except ImportError as e:
        raise ImportError("reading videos needs decord: pip install decord") from e
    try:
        return decord.VideoReader(str(path))
    except decord.DECORDError as e:
        raise ValueError(f"corrupt or unreadable video file: {path} ({e})") from e


class VideoTriplets(StepIndexed):
    """Triplets from any folder of videos (searched recursively for mp4/mkv/mov/avi/webm).

    Item: a random video, a gap ``g`` in ``[2, max_gap(step)]`` frames, frames ``s``, ``s + k``,
    ``s + g`` with ``k`` in ``1..g-1`` and ``t = k / g`` (so timesteps other than 0.5 are trained).
    ``max_gap`` comes from ``curriculum`` (``curriculum.max_gap(step)``) or is fixed.
    """

    def __init__(self, root, crop: int | None = 256, max_gap: int = 8, curriculum=None, seed=0,
                 length: int = 100_000, items_per_step: int = 1, augment: bool = True):  # fmt: skip
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"video folder not found: {root}")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        if not self.files:
            raise FileNotFoundError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) under {root}")
        if max_gap < 2:
            raise ValueError(f"max_gap must be >= 2 (a middle frame is needed), got {max_gap}")
        super().__init__(length, seed, items_per_step)
        self.crop, self.max_gap, self.curriculum, self.augment = crop, max_gap, curriculum, augment
        self._lengths: dict[Path, int] = {}

    def gap_limit(self, index: int) -> int:
        if self.curriculum is None:
            return self.max_gap
        return self.curriculum.max_gap(self.step_of(index), self.max_gap)

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        path = self.files[int(rng.integers(len(self.files)))]
        vr = _video_reader(path)
        n = len(vr)
        if n < 3:
            raise ValueError(f"{path} has {n} frames; triplets need at least 3")
        gap = int(rng.integers(2, min(self.gap_limit(index), n - 1) + 1))
        start = int(rng.integers(n - gap))
        k = int(rng.integers(1, gap))
        frames = vr.get_batch([start, start + k, start + gap]).asnumpy()
        frames = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
        return augment_triplet(frames, k / gap, rng, self.crop, flips=self.augment)
