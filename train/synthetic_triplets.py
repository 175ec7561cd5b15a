"""The embedded interpolation data (no downloads): synthetic camera and object motion over natural
images shipped inside installed packages, plus clips rendered from the built-in 3D worlds.

Sources (names are ``package:image``):

- natural images: matplotlib's ``mpl-data/sample_data`` and, when scikit-image is installed,
  the images in ``skimage/data`` (public-domain / BSD, see its README.txt);
- worlds: :func:`worldssm.envs.make_world` episodes driven by the scripted expert with small turn
  and step sizes, so the frame gap sets the motion.

Held out (never used for training; :func:`heldout_triplets`, the validation set and
``benchmarks/vfi_quality.py`` use them): the images in :data:`HELDOUT_IMAGES` and the world
:data:`HELDOUT_WORLD` (training uses :data:`TRAIN_WORLDS`).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from worldssm.train.interpolation import Curriculum
from worldssm.train.triplets import StepIndexed, augment_triplet, read_image

_SKIMAGE = (
    "astronaut.png chelsea.png coffee.png motorcycle_left.png motorcycle_right.png ihc.png "
    "hubble_deep_field.jpg retina.jpg color.png camera.png brick.png grass.png gravel.png "
    "moon.png coins.png page.png text.png rocket.jpg"
).split()
HELDOUT_IMAGES = ("skimage:rocket", "mpl:grace_hopper")
TRAIN_WORLDS = ("MazeDMLab", "VoxelMinecraft")
HELDOUT_WORLD = "IndoorHabitat"


def natural_image_paths() -> dict[str, Path]:
    """``{"mpl:grace_hopper": path, "skimage:astronaut": path, ...}`` of the images installed."""
    out = {}
    mpl = importlib.util.find_spec("matplotlib")
    if mpl is not None and mpl.origin:
        sample = Path(mpl.origin).parent / "mpl-data" / "sample_data"
        for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png"):
            if (sample / name).is_file():
                out[f"mpl:{Path(name).stem}"] = sample / name
    sk = importlib.util.find_spec("skimage")
    if sk is not None and sk.origin:
        data = Path(sk.origin).parent / "data"
        for name in _SKIMAGE:
            if (data / name).is_file():
                out[f"skimage:{Path(name).stem}"] = data / name
    return out


def image_set(heldout: bool) -> list[Path]:
    """Training images (everything but :data:`HELDOUT_IMAGES`) or the held-out ones."""
    paths = natural_image_paths()
    chosen = [p for n, p in sorted(paths.items()) if (n in HELDOUT_IMAGES) == heldout]
    if not chosen:
        raise FileNotFoundError(
            "no natural images found for the embedded interpolation data: it needs matplotlib "
            "(installed with worldssm) and, for the full training set, scikit-image "
            "(pip install scikit-image)"
        )
    return chosen


class MotionImages:
    """Renders triplets of synthetic motion over a list of images (a lazily built pyramid per
    image, so a random crop scale costs one resize per image and worker, not per item)."""

    SCALES = (1.0, 0.7, 0.5, 0.35)

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)
        self._pyramids: dict[int, list[torch.Tensor]] = {}

    def _image(self, i: int, level: int) -> torch.Tensor:
        if i not in self._pyramids:
            img = read_image(self.paths[i])
            self._pyramids[i] = [
                img if s == 1.0 else F.interpolate(
                    img[None], scale_factor=s, mode="bilinear", antialias=True,
                    align_corners=False)[0]
                for s in self.SCALES
            ]  # fmt: skip
        return self._pyramids[i][level]

    def triplet(self, rng: np.random.Generator, crop: int, max_motion: float, t: float):
        """(3, 3, crop, crop) frames at times 0, t, 1 with camera motion (translation up to
        ``max_motion`` px between the ends, small rotation and zoom) and, half the time, a pasted
        object patch moving on its own."""
        src = self._image(int(rng.integers(len(self.paths))), int(rng.integers(len(self.SCALES))))
        times = torch.tensor([0.0, t, 1.0])
        m = rng.uniform(0, max_motion)
        direction = rng.uniform(0, 2 * math.pi)
        shift = torch.tensor([math.cos(direction), math.sin(direction)]) * m
        angle = rng.uniform(-1, 1) * 0.3 * m / crop  # edge moves <= 0.15 m px
        zoom = rng.uniform(-1, 1) * 0.3 * m / crop
        scale = rng.uniform(0.8, 1.25)
        h, w = src.shape[-2:]
        c0 = torch.tensor([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
        frames = _affine_sample(src, crop, c0, shift, angle, zoom, scale, times)
        if rng.random() < 0.5:
            frames = self._paste_object(frames, rng, crop, max_motion, times)
        return frames

    def _paste_object(self, frames, rng, crop, max_motion, times):
        obj = self._image(int(rng.integers(len(self.paths))), int(rng.integers(len(self.SCALES))))
        p = int(rng.integers(crop // 8, crop // 3 + 1))
        oh, ow = obj.shape[-2:]
        y, x = int(rng.integers(max(1, oh - p))), int(rng.integers(max(1, ow - p)))
        patch = obj[:, y : y + p, x : x + p]
        p_h, p_w = patch.shape[-2:]
        yy, xx = torch.meshgrid(
            torch.linspace(-1, 1, p_h), torch.linspace(-1, 1, p_w), indexing="ij"
        )
        alpha = (1 - (xx.square() + yy.square())).clamp(0, 1).mul(4).clamp(max=1)  # soft ellipse
        rgba = torch.cat([patch, alpha[None]])
        speed = rng.uniform(0, max_motion)
        direction = rng.uniform(0, 2 * math.pi)
        v = torch.tensor([math.cos(direction), math.sin(direction)]) * speed
        q0 = torch.tensor([rng.uniform(0, crop), rng.uniform(0, crop)]) - v / 2
        layer = _place(rgba, crop, q0, v, times)  # (3, 4, crop, crop)
        a = layer[:, 3:]
        return frames * (1 - a) + layer[:, :3] * a


def _grid(mat: torch.Tensor, offset: torch.Tensor, crop: int, src_hw) -> torch.Tensor:
    """grid_sample grid (T, crop, crop, 2) for the pixel map ``u = mat @ p + offset``, with ``p``
    an output pixel's offset from the crop centre and ``u`` a source pixel coordinate (x, y);
    ``mat`` (T, 2, 2), ``offset`` (T, 2). Built with affine_grid (align_corners=False)."""
    h, w = src_hw
    to_norm = torch.tensor([2.0 / w, 2.0 / h])
    theta = torch.cat(
        [mat * to_norm[None, :, None] * crop / 2, (offset * to_norm + to_norm / 2 - 1)[..., None]],
        dim=-1,
    )
    return F.affine_grid(theta, [len(theta), 1, crop, crop], align_corners=False)


def _affine_sample(src, crop, c0, shift, angle, zoom, scale, times) -> torch.Tensor:
    """Sample ``src`` (3, H, W) through the camera at each time: centre ``c0 + shift * tau``,
    rotation ``angle * tau``, scale ``scale * exp(zoom * tau)``. Returns (T, 3, crop, crop)."""
    a, s = angle * times, scale * torch.exp(zoom * times)
    mat = torch.stack(
        [torch.stack([a.cos(), -a.sin()], -1), torch.stack([a.sin(), a.cos()], -1)], 1
    )
    grid = _grid(mat * s[:, None, None], c0 + shift * times[:, None], crop, src.shape[-2:])
    src = src[None].expand(len(times), -1, -1, -1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _place(rgba, crop, q0, v, times) -> torch.Tensor:
    """Paste ``rgba`` (4, p, p) centred at ``q0 + v * tau`` (crop pixel coords) at each time."""
    p_h, p_w = rgba.shape[-2:]
    mat = torch.eye(2).expand(len(times), 2, 2)
    # output pixel x = centre offset + (crop - 1) / 2; patch pixel = x - position + size / 2
    offset = (crop - 1) / 2 - (q0 + v * times[:, None]) + torch.tensor([p_w / 2, p_h / 2])
    grid = _grid(mat, offset, crop, (p_h, p_w))
    src = rgba[None].expand(len(times), -1, -1, -1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class WorldClips:
    """A bank of (N, L, 3, H, W) uint8 clips rendered from built-in worlds with the scripted
    expert (20% random actions), small turns and steps, so a gap of g frames is g small moves.
    Rendered once (on ``device``; a GPU renders thousands of frames per second) and kept on CPU.
    """

    def __init__(self, worlds, clips: int, clip_len: int, size: int, seed: int, device="cpu"):
        from worldssm.envs import make_world

        if clips < 1 or clip_len < 3:
            raise ValueError(f"need clips >= 1 and clip_len >= 3, got {clips}, {clip_len}")
        banks = []
        for wi, name in enumerate(worlds):
            n = max(1, clips // len(worlds))
            world = make_world(name, num_envs=n, device=device, image_size=size,
                               turn_deg=4.0, move_step=0.08)  # fmt: skip
            world.reset(
                torch.arange(n, device=world.device),
                [seed * 1000 + wi * 100_000 + i for i in range(n)],
            )
            gen = torch.Generator().manual_seed(seed + wi)
            frames = []
            for _ in range(clip_len):
                frames.append(world.render().cpu())
                act = world.expert_action().cpu()
                rand = torch.randint(len(world.actions), act.shape, generator=gen)
                act = torch.where(torch.rand(act.shape, generator=gen) < 0.2, rand, act)
                world.step(act.to(world.device))
            banks.append(torch.stack(frames, 1).permute(0, 1, 4, 2, 3).contiguous())
        self.frames = torch.cat(banks)  # (N, L, 3, H, W) uint8

    def triplet(self, rng: np.random.Generator, max_gap: int):
        """(frames (3, 3, H, W) float at s, s + k, s + g, t = k / g) with g in [2, max_gap]."""
        n, length = self.frames.shape[:2]
        gap = int(rng.integers(2, min(max_gap, length - 1) + 1))
        start, k = int(rng.integers(length - gap)), int(rng.integers(1, gap))
        clip = self.frames[int(rng.integers(n))]
        return clip[[start, start + k, start + gap]].float() / 255, k / gap


class EmbeddedTriplets(StepIndexed):
    """The default training data: a mix of :class:`MotionImages` triplets (t = 0.5 half the time,
    else uniform in [0.1, 0.9]) and :class:`WorldClips` triplets (t = k / g), with the motion range
    set by ``curriculum`` at the item's step. ``world_weight`` is the share of world triplets.

    Args:
        crop: output side; max_motion: synthetic displacement (px) at full curriculum;
        max_gap: world frame gap at full curriculum; world_clips/clip_len: bank size (0 = none);
        heldout: use the held-out images and world instead (evaluation).
    """

    def __init__(self, crop: int = 256, max_motion: float = 48.0, max_gap: int = 8,
                 curriculum: Curriculum | None = None, world_weight: float = 0.3,
                 world_clips: int = 64, clip_len: int = 24, seed: int = 0, length: int = 1_000_000,
                 items_per_step: int = 1, heldout: bool = False, device="cpu"):  # fmt: skip
        super().__init__(length, seed, items_per_step)
        self.crop, self.max_motion, self.max_gap = crop, max_motion, max_gap
        self.curriculum = curriculum or Curriculum()
        self.images = MotionImages(image_set(heldout))
        self.world_weight = world_weight if world_clips else 0.0
        self.clips = None
        if self.world_weight > 0:
            worlds = (HELDOUT_WORLD,) if heldout else TRAIN_WORLDS
            size = max(64, crop)
            self.clips = WorldClips(worlds, world_clips, clip_len, size, seed, device)

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        frac_step = self.step_of(index)
        if self.clips is not None and rng.random() < self.world_weight:
            gap = self.curriculum.max_gap(frac_step, self.max_gap)
            frames, t = self.clips.triplet(rng, gap)
            return augment_triplet(frames, t, rng, self.crop)
        t = 0.5 if rng.random() < 0.5 else float(rng.uniform(0.1, 0.9))
        motion = self.curriculum.max_motion(frac_step, self.max_motion)
        frames = self.images.triplet(rng, self.crop, motion, t)
        return augment_triplet(frames, t, rng, None)


def heldout_triplets(
    n: int,
    crop: int,
    seed: int = 1234,
    max_motion: float = 32.0,
    max_gap: int = 6,
    world_clips: int = 8,
    device="cpu",
) -> list[dict]:
    """``n`` fixed held-out triplets (held-out images and world, full motion range)."""
    data = EmbeddedTriplets(crop, max_motion, max_gap, world_weight=0.5 if world_clips else 0.0,
                            world_clips=world_clips, clip_len=max(max_gap + 1, 12), seed=seed,
                            length=n, heldout=True, device=device)  # fmt: skip
    return [data[i] for i in range(n)]
