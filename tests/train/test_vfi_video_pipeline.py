"""The interpolate pipeline's worker threads: decode prefetch and background encoding."""

import threading

import pytest
import torch

from worldssm.train.vfi_video import BackgroundWriter, prefetch


def test_prefetch_keeps_order_and_raises_the_workers_error():
    def items():
        yield from range(20)
        raise ValueError("corrupt video file after 20 frames")

    got = []
    with pytest.raises(ValueError, match="after 20 frames"):
        for x in prefetch(items(), depth=3):
            got.append(x)
    assert got == list(range(20))


def test_prefetch_leaving_early_stops_and_closes_the_source():
    closed = threading.Event()

    def items():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    for x in prefetch(items(), depth=2):
        if x == 5:
            break
    assert closed.wait(5)
    assert not any(t.name == "worldssm-decode" for t in threading.enumerate())


class _Writer:
    def __init__(self, fail_at=None):
        self.frames, self.closed, self.fail_at, self.audio_out = [], False, fail_at, None

    def write(self, frame):
        if len(self.frames) == self.fail_at:
            raise OSError("disk full")
        self.frames.append(int(frame.sum()))

    def close(self):
        self.closed = True


def test_background_writer_writes_in_order_and_reports_encoder_errors():
    inner = _Writer()
    w = BackgroundWriter(inner, depth=2)
    for i in range(10):
        w.write(torch.full((3, 2, 2), i, dtype=torch.uint8))
    w.close()
    assert inner.closed and inner.frames == [12 * i for i in range(10)] and w.frames == 10

    failing = BackgroundWriter(_Writer(fail_at=3), depth=2)
    with pytest.raises(OSError, match="disk full"):
        for _ in range(50):
            failing.write(torch.zeros(3, 2, 2, dtype=torch.uint8))
        failing.close()
