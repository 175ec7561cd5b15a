"""``worldssm interpolate``: real tiny mp4 files (with/without audio, variable frame rate), image
pairs, odd sizes, the shipped-checkpoint default, and clear errors."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from worldssm.cli import main
from worldssm.train.config import load_config
from worldssm.train.trainer import train
from worldssm.train.vfi_inference import export_slim


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 1-step trained, very small VFIMamba checkpoint (slim export)."""
    root = tmp_path_factory.mktemp("vfi_ckpt")
    cfg = load_config(
        None,
        {
            "model": {"name": "vfimamba_tiny", "width": 4, "local_refine": False, "unet_width": 4},
            "data": {"kind": "vfi_embedded", "image_size": 32, "world_clips": 0},
            "optim": {"batch_size": 2},
            "run": {"steps": 1, "run_dir": str(root / "run"), "checkpoint_every": 0},
        },
    )
    train(cfg, progress=False)
    return str(export_slim(root / "run" / "checkpoint.pt", root / "model.pt"))


def write_video(path, n=5, h=40, w=72, fps=10, audio=True, times=None):
    """n random frames (libx264); optional mono AAC tone; ``times`` (s) for variable rate."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.height, v.width, v.pix_fmt = h, w, "yuv420p"
        if times is not None:
            v.codec_context.time_base = Fraction(1, 1000)
        a = c.add_stream("aac", rate=16000) if audio else None
        if a is not None:
            a.layout = "mono"
        for i in range(n):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), np.uint8), "rgb24")
            if times is not None:
                f.pts, f.time_base = round(times[i] * 1000), Fraction(1, 1000)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            sr, total = 16000, int(16000 * n / fps)
            for s in range(0, total, 1024):
                k = min(1024, total - s)
                x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(s, s + k) / sr)).astype(np.float32)
                af = av.AudioFrame.from_ndarray(x[None], format="fltp", layout="mono")
                af.sample_rate, af.pts = sr, s
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def probe(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
    with av.open(str(path)) as c:
        return {
            "frames": np.stack(frames),
            "rate": float(c.streams.video[0].average_rate),
            "audio": len(c.streams.audio),
        }


@pytest.mark.parametrize("factor, audio", [(3, True), (2, False)])
def test_factor_counts_size_and_audio(tmp_path, checkpoint, factor, audio):
    src = write_video(tmp_path / "in.mp4", audio=audio)
    out = tmp_path / "out.mp4"
    args = ["interpolate", str(src), str(out), "--factor", str(factor), "--quiet"]
    assert main(args + ["--checkpoint", checkpoint, "--batch-size", "3"]) == 0
    info = probe(out)
    assert info["frames"].shape == (factor * 4 + 1, 40, 72, 3)  # N * (n - 1) + 1, same size
    assert info["rate"] == pytest.approx(10 * factor)
    assert info["audio"] == (1 if audio else 0)
    ins = probe(src)["frames"].astype(float)
    outs = info["frames"].astype(float)
    # input frames are kept at multiples of the factor (up to re-encoding)
    assert np.abs(outs[::factor] - ins).mean() < 12
    assert np.abs(outs[1] - ins[0]).mean() > 12  # an interpolated frame, not a copy


def test_batch_size_does_not_change_output(tmp_path, checkpoint):
    src = write_video(tmp_path / "in.mp4", n=4, audio=False)
    outs = []
    for bs in (1, 7):
        out = tmp_path / f"out{bs}.mp4"
        args = ["interpolate", str(src), str(out), "--factor", "4", "--quiet"]
        assert main(args + ["--checkpoint", checkpoint, "--batch-size", str(bs)]) == 0
        outs.append(probe(out)["frames"].astype(float))
    assert outs[0].shape == outs[1].shape == (13, 40, 72, 3)
    # Float outputs agree to ~1e-6 across batch sizes (see test_vfimamba's batch test), but one
    # uint8 value that rounds the other way can change x264's decisions for a whole block (seen:
    # 1 byte -> ~1000 pixels off by up to 15), so compare the mean, not the max.
    assert np.abs(outs[0] - outs[1]).mean() < 0.5


def test_fps_with_variable_frame_rate_and_scale(tmp_path, checkpoint):
    times = [0.0, 0.1, 0.3, 0.35, 0.5]
    src = write_video(tmp_path / "vfr.mp4", audio=False, times=times)
    out = tmp_path / "out.mp4"
    args = ["interpolate", str(src), str(out), "--fps", "20", "--scale", "0.5", "--quiet"]
    assert main(args + ["--checkpoint", checkpoint]) == 0
    info = probe(out)
    assert info["frames"].shape == (11, 40, 72, 3)  # 0, 0.05, ..., 0.5 s
    assert info["rate"] == pytest.approx(20)
    ins = probe(src)["frames"].astype(float)
    outs = info["frames"].astype(float)
    for i, t in enumerate(times):  # frames at input timestamps are the input frames
        assert np.abs(outs[round(t * 20)] - ins[i]).mean() < 12


def test_image_pair(tmp_path, checkpoint):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (37, 45, 3), np.uint8) for _ in range(2))
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    out = tmp_path / "frames"
    args = ["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--n", "3"]
    assert main(args + ["--out", str(out), "--checkpoint", checkpoint]) == 0
    files = sorted(out.glob("frame_*.png"))
    assert [f.name for f in files] == [f"frame_{i:04d}.png" for i in range(5)]
    frames = [np.asarray(Image.open(f)) for f in files]
    assert all(f.shape == (37, 45, 3) for f in frames)
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)
    assert not np.array_equal(frames[1], frames[3])


def test_shipped_checkpoint_default(tmp_path, checkpoint, monkeypatch, capsys):
    import worldssm.train.vfi_inference as vi

    folder = tmp_path / "assets" / "vfimamba_s"
    monkeypatch.setattr(vi, "shipped_checkpoint", lambda: folder / "model.pt")
    src = write_video(tmp_path / "in.mp4", n=3, audio=False)
    args = ["interpolate", str(src), str(tmp_path / "out.mp4"), "--factor", "2", "--quiet"]
    with pytest.raises(SystemExit, match="no shipped interpolation checkpoint.*--checkpoint"):
        main(args)
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(open(checkpoint, "rb").read())
    assert main(args) == 0
    assert probe(tmp_path / "out.mp4")["frames"].shape[0] == 5


def test_errors(tmp_path, checkpoint):
    ck = ["--checkpoint", checkpoint, "--quiet"]
    out = str(tmp_path / "out.mp4")
    with pytest.raises(SystemExit, match="not found"):
        main(["interpolate", str(tmp_path / "missing.mp4"), out, "--factor", "2"] + ck)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SystemExit, match="unreadable"):
        main(["interpolate", str(empty), out, "--factor", "2"] + ck)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01not a video" * 100)
    with pytest.raises(SystemExit, match="unreadable"):
        main(["interpolate", str(junk), out, "--factor", "2"] + ck)
    src = write_video(tmp_path / "in.mp4", n=2, audio=False)
    with pytest.raises(SystemExit, match="--factor N"):
        main(["interpolate", str(src), out] + ck)
    with pytest.raises(SystemExit, match="integer >= 2"):
        main(["interpolate", str(src), out, "--factor", "1"] + ck)
    with pytest.raises(SystemExit, match="--out DIR"):
        main(["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png")] + ck)
    assert not (tmp_path / "out.mp4").exists()  # no half-written output
    with pytest.raises(SystemExit, match="not a frame-interpolation|not found"):
        bad = tmp_path / "bad.pt"
        torch.save({"model": {}, "config": {}, "step": 0, "task": "frame_prediction"}, bad)
        main(["interpolate", str(src), out, "--factor", "2", "--checkpoint", str(bad)])


def test_precision_bf16_close_to_fp32(tmp_path, checkpoint):
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (37, 45, 3), np.uint8)).save(tmp_path / f"{name}.png")
    frames = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = ["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--n", "1"]
        args += ["--out", str(out), "--checkpoint", checkpoint, "--precision", precision]
        assert main(args) == 0
        frames[precision] = np.asarray(Image.open(out / "frame_0001.png")).astype(float)
    assert np.abs(frames["fp32"] - frames["bf16"]).mean() < 3  # bf16 weights: ~1% off
