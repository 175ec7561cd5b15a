"""Moving-digits videos generated on the fly (Moving-MNIST style, any length, no downloads).

Digits are an embedded 5x7 bitmap font upscaled and smoothed to glyphs, or real MNIST digits
from an idx file the user points at. Each sample is a function of (seed, index) only, so data
order is reproducible and resumable.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

_FONT = {
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}


def font_glyphs(size: int) -> np.ndarray:
    """The 10 embedded digits as (10, size, size) float32 glyphs in [0, 1]."""
    bitmaps = torch.tensor([[[int(c) for c in row] for row in _FONT[d]] for d in range(10)])
    x = F.pad(bitmaps.float()[:, None], (1, 1, 0, 0))  # 7x7
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x[:, 0].clamp(0, 1).numpy()


def load_mnist_idx(path: str | Path) -> np.ndarray:
    """MNIST images from an idx3 file (optionally .gz) as (N, 28, 28) float32 in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST idx file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or int.from_bytes(data[:4], "big") != 2051:
        raise ValueError(f"{path} is not an MNIST idx3 image file (bad magic number)")
    n, h, w = (int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    if len(data) != 16 + n * h * w:
        raise ValueError(f"{path} is truncated: expected {16 + n * h * w} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w).astype(np.float32) / 255


class MovingDigits(torch.utils.data.Dataset):
    """Videos (T, 1, S, S) float32 in [0, 1] of digits bouncing inside the frame.

    Args:
        seq_len: T, frames per sample.
        image_size: S.
        num_digits: digits per video (combined by max, as in Moving MNIST).
        digit_size: glyph size in pixels (default S * 28 / 64).
        mnist_path: an MNIST idx3 file; default: the embedded font.
        length: nominal dataset length (samples are generated; any index is valid).
        seed: base seed; sample i depends only on (seed, i).
    """

    def __init__(
        self,
        seq_len: int = 32,
        image_size: int = 64,
        num_digits: int = 2,
        digit_size: int | None = None,
        mnist_path: str | None = None,
        length: int = 10_000,
        seed: int = 0,
    ):
        self.seq_len, self.image_size, self.num_digits = seq_len, image_size, num_digits
        self.digit_size = digit_size or max(4, round(image_size * 28 / 64))
        if self.digit_size > image_size:
            raise ValueError(f"digit_size {self.digit_size} > image_size {image_size}")
        if mnist_path:
            glyphs = torch.from_numpy(load_mnist_idx(mnist_path))[:, None]
            size = (self.digit_size, self.digit_size)
            self.glyphs = F.interpolate(glyphs, size=size, mode="bilinear")[:, 0].numpy()
        else:
            self.glyphs = font_glyphs(self.digit_size)
        self.length, self.seed = length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, int(index)])
        s, d, t = self.image_size, self.digit_size, self.seq_len
        video = np.zeros((t, s, s), dtype=np.float32)
        lim = s - d
        for _ in range(self.num_digits):
            glyph = self.glyphs[rng.integers(len(self.glyphs))]
            pos = rng.uniform(0, lim, size=2)
            angle = rng.uniform(0, 2 * np.pi)
            vel = np.array([np.sin(angle), np.cos(angle)]) * rng.uniform(1.0, 3.0) * s / 64
            for i in range(t):
                y, x = int(round(pos[0])), int(round(pos[1]))
                np.maximum(
                    video[i, y : y + d, x : x + d], glyph, out=video[i, y : y + d, x : x + d]
                )
                pos = pos + vel
                for k in range(2):
                    if pos[k] < 0 or pos[k] > lim:
                        vel[k] = -vel[k]
                        pos[k] = np.clip(pos[k], 0, lim)
        return {"frames": torch.from_numpy(video)[:, None]}
