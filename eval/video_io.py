"""Reading and writing videos: folders of ``.mp4`` or ``.npz`` files, streamed one video at a time.

A *video source* is what the metrics iterate over: either a tensor ``(N, T, C, H, W)`` or any
sequence whose items are videos ``(T, C, H, W)`` (for instance :class:`VideoFolder`, which reads a
file only when indexed, so memory stays bounded however many videos a folder holds).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

VIDEO_SUFFIXES = (".mp4", ".npz")
VideoSource = torch.Tensor | Sequence[torch.Tensor]


def read_video(path: str | os.PathLike, key: str = "video") -> np.ndarray:
    """Read one video file as uint8 ``(T, H, W, C)``.

    ``.npz`` files hold an array under ``key`` (TECO's DMLab files use ``video``, shape
    ``(300, 64, 64, 3)``); ``(T, H, W)`` grey arrays get a channel axis. ``.mp4`` files are decoded
    with decord when installed, else with PyAV.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            if key not in data:
                raise KeyError(f"{path}: no array {key!r} (has {sorted(data.keys())})")
            video = data[key]
        if video.ndim == 3:
            video = video[..., None]
        if video.ndim != 4:
            raise ValueError(f"{path}: {key} must be (T, H, W, C) or (T, H, W), got {video.shape}")
        if video.dtype != np.uint8:
            raise ValueError(f"{path}: {key} must be uint8, got {video.dtype}")
        return video
    if path.suffix == ".mp4":
        try:
            import decord
        except ImportError:
            decord = None
        if decord is not None:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
            return reader.get_batch(list(range(len(reader)))).asnumpy()
        import av

        with av.open(str(path)) as container:
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    raise ValueError(f"{path}: unsupported video file (use one of {VIDEO_SUFFIXES})")


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int = 10, crf: int = 18) -> None:
    """Write uint8 frames ``(T, H, W, 3)`` (or grey ``(T, H, W)``) as H.264 mp4 with PyAV.

    Odd sizes are padded by one pixel (H.264 with yuv420p needs even sizes).
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"write_mp4 takes uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


class VideoFolder(Sequence):
    """The ``.mp4`` / ``.npz`` videos in a folder (recursively), sorted by relative path.

    Indexing returns a uint8 tensor ``(T, C, H, W)``, read from disk on demand.

    Args:
        root: the folder.
        frames: optional ``slice`` of frames to keep (e.g. ``slice(0, 300)``).
        key: array name inside ``.npz`` files.
        limit: keep only the first ``limit`` videos.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        frames: slice | None = None,
        key: str = "video",
        limit: int | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotADirectoryError(f"video folder not found: {self.root}")
        files = sorted(p for p in self.root.rglob("*") if p.suffix in VIDEO_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no {' or '.join(VIDEO_SUFFIXES)} videos in {self.root}")
        self.files = files[:limit] if limit is not None else files
        self.frames, self.key = frames, key

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        video = read_video(self.files[i], self.key)
        if self.frames is not None:
            video = video[self.frames]
        return torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2)

    def names(self) -> list[str]:
        """Paths relative to the root, to pair real and generated videos."""
        return [str(p.relative_to(self.root)) for p in self.files]

    def fingerprint(self) -> str:
        """A hash of the file names, sizes, modification times, frame slice and key (cache key)."""
        h = hashlib.sha256(repr((self.frames, self.key)).encode())
        for p in self.files:
            st = p.stat()
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def source_len(source: VideoSource) -> int:
    """Number of videos in a source."""
    return int(source.shape[0]) if isinstance(source, torch.Tensor) else len(source)


def iter_batches(
    source: VideoSource, batch_size: int, start: int = 0, stop: int | None = None
) -> Iterator[torch.Tensor]:
    """Yield batches ``(b, T, C, H, W)`` of videos ``start..stop`` of a source, in order."""
    if isinstance(source, torch.Tensor) and source.dim() != 5:
        raise ValueError(f"a video tensor must be (N, T, C, H, W), got {tuple(source.shape)}")
    stop = source_len(source) if stop is None else stop
    for i in range(start, stop, batch_size):
        j = min(i + batch_size, stop)
        if isinstance(source, torch.Tensor):
            yield source[i:j]
        else:
            videos = [source[k] for k in range(i, j)]
            shapes = {tuple(v.shape) for v in videos}
            if len(shapes) != 1:
                raise ValueError(f"videos {i}..{j - 1} differ in shape: {sorted(shapes)}")
            yield torch.stack(videos)
