"""Datasets: moving digits determinism, MNIST idx, TECO / mp4 folders and their errors."""

import gzip

import numpy as np
import pytest
import torch

from worldssm.train.moving_digits import MovingDigits, load_mnist_idx
from worldssm.train.video_folders import VideoFolder


def test_moving_digits_shape_and_determinism():
    d = MovingDigits(seq_len=12, image_size=32, num_digits=2, seed=3)
    x = d[5]["frames"]
    assert x.shape == (12, 1, 32, 32) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and x.mean() > 0.01
    assert torch.equal(x, d[5]["frames"])
    assert not torch.equal(x, d[6]["frames"])
    assert not torch.equal(x[0], x[-1])  # digits move


def test_mnist_idx(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 255, (3, 28, 28), dtype=np.uint8)
    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (3, 28, 28))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + imgs.tobytes())
    assert np.allclose(load_mnist_idx(path), imgs / 255)
    d = MovingDigits(seq_len=4, image_size=32, mnist_path=str(path))
    assert d[0]["frames"].shape == (4, 1, 32, 32)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="bad.idx"):
        load_mnist_idx(bad)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_mnist_idx(tmp_path / "nope")


def test_teco_dmlab_folder_and_errors(tmp_path):
    worker = tmp_path / "train" / "0"
    worker.mkdir(parents=True)
    video = np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    np.savez(worker / "0.npz", video=video, actions=np.arange(20))
    d = VideoFolder(tmp_path, seq_len=8, fmt="teco_dmlab", split="train")
    item = d[0]
    assert item["frames"].shape == (8, 3, 64, 64) and item["actions"].shape == (8,)
    start = int(item["actions"][0])
    assert torch.allclose(item["frames"][0], torch.from_numpy(video[start]).permute(2, 0, 1) / 255)
    (worker / "1.npz").write_bytes(b"not a zip")
    d = VideoFolder(tmp_path, seq_len=8, fmt="teco_dmlab", split="train")
    with pytest.raises(ValueError, match="1.npz"):
        for i in range(20):
            d[i]
    with pytest.raises(FileNotFoundError, match="test"):
        VideoFolder(tmp_path, seq_len=8, fmt="teco_dmlab", split="test")


def test_mp4_folders(tmp_path):
    from worldssm.train.generate import write_mp4

    frames = np.zeros((10, 32, 32, 3), dtype=np.uint8)
    frames[:, 8:24, 8:24] = 200
    write_mp4(tmp_path / "a.mp4", frames)
    d = VideoFolder(tmp_path, seq_len=6, fmt="mp4")
    x = d[0]["frames"]
    assert x.shape == (6, 3, 32, 32) and abs(x[:, :, 16, 16].mean().item() - 200 / 255) < 0.05
    with pytest.raises(FileNotFoundError, match="a.npz"):
        VideoFolder(tmp_path, seq_len=6, fmt="teco_mp4")
    with pytest.raises(ValueError, match="a.mp4"):
        VideoFolder(tmp_path, seq_len=60, fmt="mp4")[0]
