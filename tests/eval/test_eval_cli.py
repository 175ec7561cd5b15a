"""``worldssm evaluate --real DIR --fake DIR``: the whole report, with random-weight networks."""

import json

import numpy as np
import pytest
import torch

from worldssm.cli import main
from worldssm.eval import AlexNetLPIPS, InceptionI3d
from worldssm.eval.video_io import write_mp4


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
    assert main(["evaluate", "--checkpoint", "ckpt.pt", "--data", str(folders)]) == 2
    assert "not available yet" in capsys.readouterr().err
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
