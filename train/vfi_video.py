"""Video in, video out for frame interpolation: decode with PyAV (frame timestamps, so variable
frame rate input works), plan the output frames, batch the model calls, encode H.264 and copy the
input's audio stream unchanged.

Output frames:

- ``factor=N``: between frames i and i+1 the frames at t = k/N, k = 0..N-1, then the last input
  frame: N*(n-1)+1 frames at N times the input's average rate.
- ``fps=R``: frames at times t0 + j/R up to the last input timestamp; each is the input frame at
  that time or the interpolation between the two input frames around it, at t from their actual
  timestamps (variable frame rate input gives constant-rate output).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

_EPS = 1e-3  # of a frame interval: closer than this to an input frame copies it


def open_video(path: str | Path):
    """Open ``path`` with PyAV; clear errors for missing, unreadable or video-less files."""
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input video not found: {path}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise ValueError(f"unreadable video file {path}: {e}") from e
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container


def decode_frames(path: str | Path):
    """Yield (time in seconds, (3, H, W) uint8 tensor) for every frame of ``path``."""
    import av

    container = open_video(path)
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 30)
    count = 0
    try:
        for i, frame in enumerate(container.decode(stream)):
            time = frame.time if frame.time is not None else i / rate
            count += 1
            yield float(time), torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)
    except av.error.FFmpegError as e:
        raise ValueError(f"corrupt video file {path} after {count} frames: {e}") from e
    finally:
        container.close()
    if count == 0:
        raise ValueError(f"{path} has no decodable video frames (empty video)")


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterable, depth: int = 8) -> Iterator:
    """Iterate ``items`` on a worker thread, up to ``depth`` ahead (decoding overlaps the GPU).

    Exceptions of the worker are raised here, in order; leaving the loop early stops it.
    """
    buffer: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                buffer.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for x in items:
                if not put(x):
                    return
        except BaseException as e:  # handed to the consumer
            put(_Raised(e))
        else:
            put(done)
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()

    worker = threading.Thread(target=run, daemon=True, name="worldssm-decode")
    worker.start()
    try:
        while True:
            x = buffer.get()
            if x is done:
                return
            if isinstance(x, _Raised):
                raise x.error
            yield x
    finally:
        stop.set()
        worker.join()


def plan_pair(ta: float, tb: float, factor: int | None, fps: float | None, next_time: float):
    """Output entries for the interval [ta, tb): ``(t, time)`` with t in [0, 1) the position
    between the two frames, and the next output time (fps mode).

    Returns (entries, next_time).
    """
    if factor is not None:
        return [(k / factor, None) for k in range(factor)], next_time
    entries, dt = [], 1.0 / fps
    span = max(tb - ta, 1e-9)
    while next_time < tb - _EPS * span:
        if next_time >= ta - _EPS * span:
            entries.append((max(0.0, (next_time - ta) / span), next_time))
        next_time += dt
    return entries, next_time


class VideoWriter:
    """H.264 (yuv420p) writer at a constant ``fps``; copies ``audio_from``'s first audio stream.

    Odd frame sizes are padded by one replicated row/column (yuv420p needs even sizes).
    """

    def __init__(self, path: str | Path, fps: Fraction, audio_from: str | Path | None = None):
        import av

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path, self.fps = Path(path), Fraction(fps).limit_denominator(1_000_000)
        self.container = av.open(str(path), mode="w")
        self.stream = None
        self.audio_from, self.audio_in, self.audio_out = audio_from, None, None
        self.frames = 0

    def _open_streams(self, height: int, width: int) -> None:
        """Video stream first, then the copied audio stream (all before the first packet)."""
        import av

        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.height, self.stream.width = height, width
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "17"}
        if self.audio_from is not None:
            src = av.open(str(self.audio_from))
            if src.streams.audio:
                self.audio_in = src
                self.audio_out = self.container.add_stream_from_template(src.streams.audio[0])
            else:
                src.close()

    def write(self, frame: torch.Tensor) -> None:
        """Append one (3, H, W) uint8 frame."""
        import av

        arr = frame.permute(1, 2, 0).cpu().numpy()
        if arr.shape[0] % 2 or arr.shape[1] % 2:
            arr = np.pad(arr, ((0, arr.shape[0] % 2), (0, arr.shape[1] % 2), (0, 0)), mode="edge")
        if self.stream is None:
            self._open_streams(*arr.shape[:2])
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder, copy the audio packets and close the file."""
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        if self.audio_in is not None:
            for packet in self.audio_in.demux(self.audio_in.streams.audio[0]):
                if packet.dts is None:  # the demuxer's final flush packet
                    continue
                packet.stream = self.audio_out
                self.container.mux(packet)
            self.audio_in.close()
        self.container.close()


class BackgroundWriter:
    """A :class:`VideoWriter` fed through a queue and encoding on a worker thread, so H.264
    encoding (the slowest stage at 1080p) overlaps the model on the GPU. Same ``write`` /
    ``close`` / ``frames`` / ``audio_out``; an encoder error is raised by the next call."""

    def __init__(self, writer: VideoWriter, depth: int = 32):
        self.writer, self.frames, self.error = writer, 0, None
        self.queue: queue.Queue = queue.Queue(depth)
        self.thread = threading.Thread(target=self._run, daemon=True, name="worldssm-encode")
        self.thread.start()

    @property
    def audio_out(self):
        return self.writer.audio_out

    def _run(self) -> None:
        while (frame := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(frame)
                except BaseException as e:  # raised by the next write/close
                    self.error = e

    def write(self, frame: torch.Tensor) -> None:
        """Queue one (3, H, W) uint8 CPU frame."""
        if self.error is not None:
            raise self.error
        self.queue.put(frame)
        self.frames += 1

    def close(self, check: bool = True) -> None:
        """Encode what is queued, then close the file; ``check``: raise an encoder error."""
        self.queue.put(None)
        self.thread.join()
        self.writer.close()
        if check and self.error is not None:
            raise self.error


def interpolate_video(
    interp, src, dst, factor: int | None = None, fps: float | None = None, progress: bool = True
) -> dict:
    """Write ``dst``: ``src`` with frames interpolated by ``interp`` (a
    :class:`~worldssm.train.vfi_inference.FrameInterpolator`); exactly one of ``factor`` (integer
    >= 2) and ``fps`` (> 0). Returns counts and rates."""
    if (factor is None) == (fps is None):
        raise ValueError("give exactly one of --factor N and --fps RATE")
    if factor is not None and (int(factor) != factor or factor < 2):
        raise ValueError(f"--factor must be an integer >= 2, got {factor}")
    if fps is not None and fps <= 0:
        raise ValueError(f"--fps must be positive, got {fps}")
    probe = open_video(src)
    stream = probe.streams.video[0]
    in_rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
    total_in = stream.frames or None
    probe.close()
    out_rate = (
        in_rate * int(factor) if factor is not None else Fraction(fps).limit_denominator(1001)
    )
    writer = BackgroundWriter(VideoWriter(dst, out_rate, audio_from=src))
    pending: list = []  # output entries in order: a frame tensor, or [a, b, t, None] to fill
    jobs: list = []

    def flush():
        if jobs:
            a = torch.stack([j[0] for j in jobs])
            b = torch.stack([j[1] for j in jobs])
            t = torch.tensor([j[2] for j in jobs])
            out = (interp(a, b, t) * 255).round().byte().cpu()
            for j, o in zip(jobs, out, strict=True):
                j[3] = o
            jobs.clear()
        for e in pending:
            writer.write(e if torch.is_tensor(e) else e[3])
        pending.clear()

    from tqdm import tqdm

    bar = tqdm(total=total_in, disable=not progress, desc="interpolate", unit="frame")
    prev, n_in, next_time, first_time = None, 0, None, None
    try:
        for time, frame in prefetch(decode_frames(src)):
            n_in += 1
            bar.update(1)
            if prev is None:
                first_time = next_time = time
                prev = (time, frame)
                continue
            if frame.shape != prev[1].shape:
                raise ValueError(f"{src}: frame size changes mid-video; not supported")
            entries, next_time = plan_pair(prev[0], time, factor, fps, next_time)
            for t, _ in entries:
                if t < _EPS:
                    pending.append(prev[1])
                else:
                    job = [prev[1], frame, t, None]
                    jobs.append(job)
                    pending.append(job)
            if len(jobs) >= interp.batch_size:
                flush()
            prev = (time, frame)
        if prev is None:
            raise ValueError(f"{src} has no video frames (empty video)")
        flush()
        if factor is not None:
            writer.write(prev[1])
        else:
            span = 1.0 / float(in_rate)
            while next_time <= prev[0] + _EPS * span:
                writer.write(prev[1])
                next_time += 1.0 / fps
        n_out = writer.frames
    except BaseException:
        bar.close()
        writer.close(check=False)  # the first error is the one to report
        Path(dst).unlink(missing_ok=True)  # no half-written output
        raise
    bar.close()
    writer.close()
    duration = (prev[0] - first_time) if prev is not None else 0.0
    return {
        "input_frames": n_in,
        "output_frames": n_out,
        "input_fps": float(in_rate),
        "output_fps": float(out_rate),
        "duration_s": duration,
        "audio": writer.audio_out is not None,
    }
