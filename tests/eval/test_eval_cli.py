"""``worldssm evaluate``: the whole report, with random-weight networks, from two video folders
(``--real/--fake``) or from an untrained tiny model (``--checkpoint/--data``)."""

import csv
import json

import numpy as np
import pytest
import torch

from worldssm.cli import main
from worldssm.eval import AlexNetLPIPS, InceptionI3d
from worldssm.eval.video_io import read_video, write_mp4


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(0)
    (root / "real" / "w0").mkdir(parents=True)
    (root / "fake" / "w0").mkdir(parents=True)
    for i in range(3):
        blocks = rng.integers(0, 256, (12, 4, 4, 3), dtype=np.uint8)  # mp4-friendly, smooth-ish
        video = blocks.repeat(8, axis=1).repeat(8, axis=2)
        np.savez(root / "real" / "w0" / f"{i}.npz", video=video, actions=np.zeros(12, int))
        fake = video.copy()
        fake[4:] = np.clip(fake[4:].astype(int) + rng.integers(-20, 21, fake[4:].shape), 0, 255)
        write_mp4(root / "fake" / "w0" / f"{i}.mp4", fake.astype(np.uint8))
    torch.manual_seed(0)
    torch.save(AlexNetLPIPS().state_dict(), root / "alexnet.pth")
    i3d = InceptionI3d()
    for m in i3d.modules():
        if isinstance(m, torch.nn.Conv3d):
            torch.nn.init.kaiming_normal_(m.weight)
    torch.save(i3d.state_dict(), root / "i3d.pt")
    return root


def _args(root, *extra):
    return [
        "evaluate",
        "--real", str(root / "real"),
        "--fake", str(root / "fake"),
        "--alexnet-weights", str(root / "alexnet.pth"),
        "--i3d-weights", str(root / "i3d.pt"),
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def test_evaluate_folders_full_report(folders, tmp_path):
    out = tmp_path / "report"
    code = main(_args(folders, "--out", str(out), "--context", "4", "--allow-rank-deficient"))
    assert code == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["videos"] == 3 and data["frames_per_video"] == 12
    m = data["metrics"]
    assert set(m) == {"psnr", "ssim", "lpips", "fvd"}
    assert 15 < m["psnr"] < 60 and 0 < m["ssim"] < 1 and m["fvd"]["value"] >= 0
    lines = (out / "per_frame.csv").read_text().splitlines()
    assert len(lines) == 1 + 8 and lines[1].startswith("4,")
    assert (out / "horizon.png").stat().st_size > 1000 and (out / "grid.mp4").stat().st_size > 0


def test_evaluate_errors(folders, tmp_path, capsys):
    assert main(_args(folders, "--out", str(tmp_path / "r1"))) == 2  # 3 videos < 401 for FVD
    assert "full-rank" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", "ckpt.pt", "--real", str(folders)]) == 2
    assert "not both" in capsys.readouterr().err
    code = main(_args(folders, "--out", str(tmp_path / "r2"), "--metrics", "psnr,nope"))
    assert code == 2 and "nope" in capsys.readouterr().err
    code = main(
        [
            "evaluate",
            "--real",
            str(folders / "real"),
            "--fake",
            str(folders / "real" / "w0"),
            "--metrics",
            "psnr",
            "--no-progress",
            "--out",
            str(tmp_path / "r3"),
        ]
    )
    assert code == 2 and "names must match" in capsys.readouterr().err


# -- worldssm evaluate --checkpoint --data ------------------------------------------------------


def _save_tiny_checkpoint(path, channels, action_dim, data):
    """An untrained tiny ConvS5 saved like the trainer's save() (train/trainer.py)."""
    import dataclasses

    import worldssm
    from worldssm.train.checkpoint import save_checkpoint
    from worldssm.train.config import TrainConfig

    kw = dict(image_size=32, image_channels=channels, enc_channels=(8, 16), num_layers=1)
    kw.update(state_size=8, action_dim=action_dim)
    model = worldssm.create_model("convs5_tiny", **kw)
    cfg = TrainConfig.from_dict({"model": {"name": "convs5_tiny", **kw}, "data": data})
    payload = dict(model=model.state_dict(), step=7, config=cfg.to_dict())
    payload.update(model_name="convs5_tiny", model_config=dataclasses.asdict(model.cfg))
    save_checkpoint(path, payload)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, folders):
    """A TECO DMLab folder (3 videos of 20 frames with actions) and tiny checkpoints."""
    root = tmp_path_factory.mktemp("ckpt_eval")
    rng = np.random.default_rng(1)
    (root / "dmlab" / "test" / "0").mkdir(parents=True)
    for i in range(3):
        video = rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8).repeat(8, 1).repeat(8, 2)
        actions = rng.integers(0, 4, 20)
        np.savez(root / "dmlab" / "test" / "0" / f"{i}.npz", video=video, actions=actions)
    torch.manual_seed(0)
    data = dict(kind="teco_dmlab", image_size=32, root=str(root / "dmlab"))
    _save_tiny_checkpoint(root / "dmlab.pt", 3, 4, data)
    _save_tiny_checkpoint(root / "digits.pt", 1, 0, dict(kind="moving_digits", image_size=32))
    return root


def _ckpt_args(folders, trained, ckpt, data, out, *extra):
    return [
        "evaluate",
        "--checkpoint", str(trained / ckpt),
        "--data", data,
        "--alexnet-weights", str(folders / "alexnet.pth"),
        "--i3d-weights", str(folders / "i3d.pt"),
        "--device", "cpu",
        "--no-progress",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


def test_evaluate_checkpoint_custom_on_teco_folder(folders, trained, tmp_path):
    out = tmp_path / "report"
    extra = ("--protocol", "custom", "--context", "4", "--horizon", "8", "--allow-rank-deficient")
    extra += ("--gen-batch-size", "2")  # 3 videos: two batches
    args = _ckpt_args(folders, trained, "dmlab.pt", str(trained / "dmlab"), out, *extra)
    assert main(args) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"] == "custom" and data["checkpoint"] == str(trained / "dmlab.pt")
    assert data["videos"] == 3 and data["step"] == 7 and data["split"] == "test"
    assert data["skipped"] == {} and set(data["metrics"]) == {"psnr", "ssim", "lpips", "fvd"}
    assert data["metrics"]["fvd"]["value"] > 0 and data["metrics"]["fvd"]["videos"] == 3
    # the same numbers by hand: generate from the first 4 frames with actions, quantize, PSNR
    from worldssm.commands.predict import load_model
    from worldssm.eval import psnr
    from worldssm.train.generate import generate

    model, _, _ = load_model(trained / "dmlab.pt", "cpu")
    files = sorted((trained / "dmlab" / "test").rglob("*.npz"))
    videos = torch.stack([torch.from_numpy(np.load(f)["video"]) for f in files])
    videos = videos.permute(0, 1, 4, 2, 3)[:, :12]
    acts = torch.stack([torch.from_numpy(np.load(f)["actions"]) for f in files])[:, :11]
    pred = generate(model, videos[:, :4].float() / 255, 8, acts)
    pred = (pred.clamp(0, 1) * 255).round().to(torch.uint8)
    expect = psnr(pred, videos[:, 4:])  # (3, 8); batches of 2 + 1 round a few pixels otherwise
    assert data["metrics"]["psnr"] == pytest.approx(float(expect.mean()), rel=1e-4)
    rows = list(csv.DictReader(open(out / "per_frame.csv")))
    assert [int(r["frame"]) for r in rows] == list(range(4, 12))
    curve = [float(r["psnr_mean"]) for r in rows]
    assert curve == pytest.approx(expect.mean(0).tolist(), abs=2e-3)
    assert (out / "horizon.png").read_bytes()[:4] == b"\x89PNG"
    grid = read_video(out / "grid.mp4")
    assert grid.shape == (12, 3 * 32 + 2 * 2, 2 * 32 + 2, 3)


def test_evaluate_checkpoint_moving_digits(folders, trained, tmp_path, capsys):
    out = tmp_path / "report"
    extra = ("--protocol", "moving-mnist", "--context", "5", "--horizon", "4,8")
    extra += ("--max-videos", "2", "--metrics", "psnr,ssim")  # FVD@h: test_eval_protocols
    assert main(_ckpt_args(folders, trained, "digits.pt", "moving-digits", out, *extra)) == 0
    m = json.loads((out / "metrics.json").read_text())["metrics"]
    assert set(m) == {f"{k}@{h}" for k in ("psnr", "ssim") for h in (4, 8)}
    assert m["psnr@4"] != m["psnr@8"] and -1 < m["ssim@8"] < 1 and m["ssim@8"] != m["ssim@4"]
    lines = (out / "per_frame.csv").read_text().splitlines()
    assert lines[0] == "frame,psnr_mean,psnr_std,ssim_mean,ssim_std" and len(lines) == 1 + 8
    assert lines[1].startswith("5,") and "psnr@8:" in capsys.readouterr().out


def test_evaluate_checkpoint_skips_fvd_and_lpips_without_weights(
    trained, tmp_path, monkeypatch, capsys
):
    for name in ("WORLDSSM_ALEXNET_WEIGHTS", "WORLDSSM_I3D_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLDSSM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out = tmp_path / "report"
    args = ["evaluate", "--checkpoint", str(trained / "dmlab.pt"), "--data", str(trained / "dmlab")]
    args += ["--protocol", "custom", "--context", "4", "--horizon", "6", "--fvd-chunk", "2"]
    assert main([*args, "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["metrics"]) == {"psnr", "ssim"}
    assert "I3D" in data["skipped"]["fvd"] and "AlexNet" in data["skipped"]["lpips"]
    captured = capsys.readouterr()
    assert "FVD skipped" in captured.err and "LPIPS skipped" in captured.err
    assert "fvd: skipped" in captured.out
    # too few videos for TECO's chunks of 256: skipped for that reason, before any weights
    assert main([*args[:5], "--protocol", "teco-dmlab", "--out", str(out), "--metrics", "fvd"]) == 2
    err = capsys.readouterr().err
    assert "at least 256" in err and "every requested metric was skipped" in err


def test_evaluate_checkpoint_errors(trained, tmp_path, capsys):
    def run(ckpt, data, *extra):
        args = ["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--metrics", "psnr"]
        return main([*args, "--no-progress", "--out", str(tmp_path / "r"), *extra])

    dmlab, ckpt = trained / "dmlab", trained / "dmlab.pt"
    custom = ("--protocol", "custom", "--context", "4", "--horizon", "8")
    assert run(tmp_path / "nope.pt", dmlab, *custom) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert run(ckpt, tmp_path / "nodata", *custom) == 2
    assert "not found" in capsys.readouterr().err
    assert run(ckpt, dmlab, "--protocol", "custom", "--context", "15", "--horizon", "10") == 2
    err = capsys.readouterr().err
    assert "has 20 frames" in err and "needs 25" in err
    assert run(ckpt, dmlab, "--protocol", "teco-dmlab") == 2
    assert "needs 300" in capsys.readouterr().err
    assert run(ckpt, dmlab, "--protocol", "teco-dmlab", "--context", "4") == 2
    assert "--protocol custom" in capsys.readouterr().err
    assert run(ckpt, dmlab, "--protocol", "custom", "--context", "4") == 2
    assert "--horizon" in capsys.readouterr().err
    assert run(trained / "digits.pt", dmlab, *custom) == 2
    assert "model takes (1, 32, 32)" in capsys.readouterr().err
    assert run(ckpt, dmlab, *custom, "--metrics", "lpips", "--alexnet-weights", "nope.pth") == 2
    assert "nope.pth" in capsys.readouterr().err  # a path the user gave: an error, not a skip
    assert main(["evaluate", "--checkpoint", str(ckpt)]) == 2
    assert "--data" in capsys.readouterr().err
