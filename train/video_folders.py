"""Video datasets from folders: TECO formats (DMLab npz; Minecraft/Habitat mp4 + npz) and any
folder of mp4 files. Items are dicts with ``frames`` (T, 3, H, W) float32 in [0, 1] and, where
the files have them, ``actions`` (T,) int64. Sample i is a random clip chosen from (seed, i).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # zipfile/pickle errors vary
        raise ValueError(f"corrupt or unreadable npz file: {path} ({e})") from e


def _read_mp4(path: Path, start: int, length: int) -> np.ndarray:
    try:
        import decord
    except ImportError as e:
        raise ImportError("reading mp4 needs decord: pip install decord") from e
    try:
        vr = decord.VideoReader(str(path))
        if start + length > len(vr):
            raise ValueError(f"{path} has {len(vr)} frames; need {start + length}")
        return vr.get_batch(list(range(start, start + length))).asnumpy()
    except decord.DECORDError as e:
        raise ValueError(f"corrupt or unreadable video file: {path} ({e})") from e


def _num_frames(path: Path) -> int:
    import decord

    try:
        return len(decord.VideoReader(str(path)))
    except decord.DECORDError as e:
        raise ValueError(f"corrupt or unreadable video file: {path} ({e})") from e


class VideoFolder(torch.utils.data.Dataset):
    """Clips of ``seq_len`` frames from a folder.

    Args:
        root: folder; with ``split`` the files are under ``root/split``.
        seq_len: frames per clip.
        fmt: ``"teco_dmlab"`` (``*.npz`` with ``video`` (T, H, W, 3) uint8 and ``actions``),
            ``"teco_mp4"`` (``*.mp4`` with a sibling ``.npz`` holding ``actions``) or ``"mp4"``.
        split: e.g. ``"train"`` or ``"test"``.
        length: nominal dataset length; seed: base seed.
    """

    def __init__(
        self, root, seq_len: int, fmt: str = "mp4", split: str | None = None, length=10_000, seed=0
    ):
        base = Path(root) / split if split else Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"video folder not found: {base}")
        if fmt not in ("teco_dmlab", "teco_mp4", "mp4"):
            raise ValueError(f"unknown video folder format {fmt!r}")
        pattern = "*.npz" if fmt == "teco_dmlab" else "*.mp4"
        self.files = sorted(base.rglob(pattern))
        if not self.files:
            raise FileNotFoundError(f"no {pattern} files under {base} (format {fmt})")
        if fmt == "teco_mp4":
            missing = [
                f.with_suffix(".npz") for f in self.files if not f.with_suffix(".npz").is_file()
            ]
            if missing:
                raise FileNotFoundError(
                    f"missing actions file {missing[0]} for {missing[0].with_suffix('.mp4')}"
                )
        self.root, self.fmt, self.seq_len, self.length, self.seed = base, fmt, seq_len, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, int(index)])
        path = self.files[rng.integers(len(self.files))]
        actions = None
        if self.fmt == "teco_dmlab":
            data = _read_npz(path)
            if "video" not in data:
                raise ValueError(f"{path} has no 'video' array (keys: {sorted(data)})")
            video = data["video"]
            start = self._start(rng, len(video), path)
            video = video[start : start + self.seq_len]
            actions = data.get("actions")
        else:
            start = self._start(rng, _num_frames(path), path)
            video = _read_mp4(path, start, self.seq_len)
            if self.fmt == "teco_mp4":
                actions = _read_npz(path.with_suffix(".npz")).get("actions")
        item = {
            "frames": torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).float()
            / 255
        }
        if actions is not None:
            item["actions"] = torch.from_numpy(
                np.asarray(actions[start : start + self.seq_len])
            ).long()
        return item

    def _start(self, rng, n: int, path: Path) -> int:
        if n < self.seq_len:
            raise ValueError(f"{path} has {n} frames; clips need seq_len={self.seq_len}")
        return int(rng.integers(n - self.seq_len + 1))
