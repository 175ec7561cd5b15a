"""Interpolation training: task from data.kind, resume == uninterrupted, validation, slim export,
presets, and the quality benchmark's --quick run."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from worldssm.models.vfimamba import VFIMambaConfig
from worldssm.train.checkpoint import load_checkpoint
from worldssm.train.config import MODEL_KEYS, VFI_MODEL_KEYS, load_config
from worldssm.train.interpolation import TRIPLET_KINDS
from worldssm.train.tasks import InterpolationTask, make_task
from worldssm.train.trainer import train
from worldssm.train.vfi_inference import FrameInterpolator, export_slim, load_interpolator

ROOT = Path(__file__).resolve().parents[2]
# smaller than the vfimamba_tiny preset, so the CPU tests stay fast
SMALL = {"name": "vfimamba_tiny", "width": 4, "local_refine": False, "unet_width": 4}


def small_cfg(run_dir, steps=2, **run):
    return load_config(
        None,
        {
            "model": SMALL,
            "data": {
                "kind": "vfi_embedded",
                "image_size": 32,
                "world_clips": 2,
                "clip_len": 6,
                "max_motion": 8,
                "curriculum_steps": 4,
            },  # fmt: skip
            "optim": {
                "batch_size": 2,
                "warmup_steps": 2,
            },  # the first 2 steps: same LR for any total
            "run": {"steps": steps, "run_dir": str(run_dir), "checkpoint_every": 0, **run},
        },
    )


def test_presets_and_model_keys():
    fields = {f.name for f in dataclasses.fields(VFIMambaConfig)}
    assert fields <= set(MODEL_KEYS) | set(VFI_MODEL_KEYS)
    presets = sorted(ROOT.glob("configs/vfi*.yaml"))
    assert {p.stem for p in presets} >= {"vfimamba_tiny", "vfimamba_s", "vfiflow_conv_s"}
    for p in presets:
        cfg = load_config(p)
        assert cfg.data.kind in TRIPLET_KINDS and cfg.data.image_size % 16 == 0
        assert isinstance(make_task(cfg), InterpolationTask)
    s, conv = (
        load_config(ROOT / "configs/vfimamba_s.yaml"),
        load_config(ROOT / "configs/vfiflow_conv_s.yaml"),
    )
    assert dataclasses.replace(s, model={}) == dataclasses.replace(
        conv, model={}, run=dataclasses.replace(conv.run, run_dir=s.run.run_dir)
    )


def test_frame_model_on_triplets_is_a_clear_error(tmp_path):
    cfg = small_cfg(tmp_path)
    cfg.model = {"name": "convs5_tiny", "image_size": 32}
    with pytest.raises(ValueError, match="not an interpolation model"):
        train(cfg, progress=False)


def test_resume_equals_uninterrupted_with_validation(tmp_path):
    train(small_cfg(tmp_path / "a", steps=4), progress=False)
    cfg = small_cfg(tmp_path / "c", steps=4, val_every=2, log_every=1)
    cfg.data.val_size = 2  # validation must not change training
    train(dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, steps=2)), progress=False)
    train(cfg, progress=False)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    c = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert a["task"] == "interpolation" and c["step"] == 4
    for k, v in a["model"].items():
        torch.testing.assert_close(c["model"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(tmp_path / "c" / "tb"))
    ev.Reload()
    assert {"val/psnr", "val/psnr_blend", "train/loss"} <= set(ev.Tags()["scalars"])
    psnr = ev.Scalars("val/psnr")[-1].value
    assert 5 < psnr < 60


def test_slim_export_loads_and_matches(tmp_path):
    train(small_cfg(tmp_path / "r", steps=1), progress=False)
    full = tmp_path / "r" / "checkpoint.pt"
    slim = export_slim(full, tmp_path / "slim.pt")
    assert slim.stat().st_size < 0.6 * full.stat().st_size
    assert "optimizer" not in torch.load(slim, weights_only=False)
    m_full, _ = load_interpolator(full)
    m_slim, ck = load_interpolator(slim)
    assert ck["format"] == "slim" and ck["step"] == 1
    x0, x1 = torch.rand(2, 3, 20, 36), torch.rand(2, 3, 20, 36)  # not multiples of 16: padded
    a = FrameInterpolator(m_full, batch_size=1)(x0, x1, torch.tensor([0.25, 0.5]))
    b = FrameInterpolator(m_slim)(x0, x1, torch.tensor([0.25, 0.5]))
    assert a.shape == (2, 3, 20, 36)
    assert (a - b).abs().max() < 0.05  # bf16 weights
    assert not torch.allclose(a[0], a[1])  # t matters
    with pytest.raises(ValueError, match="not a frame-interpolation checkpoint"):
        ck = load_checkpoint(full)
        ck["task"] = "frame_prediction"
        torch.save(ck, tmp_path / "fp.pt")
        load_interpolator(tmp_path / "fp.pt")


def test_quality_benchmark_quick(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("vfi_quality", ROOT / "benchmarks/vfi_quality.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "q.json"
    assert mod.main(["--quick", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"repeat", "blend", "vfimamba", "conv_baseline"}
    for r in report["results"].values():
        assert 5 < r["all"]["psnr"] < 60 and -1 <= r["all"]["ssim"] <= 1
        assert r["images"]["n"] == r["world"]["n"] == 4
    assert report["results"]["repeat"]["all"] != report["results"]["blend"]["all"]
