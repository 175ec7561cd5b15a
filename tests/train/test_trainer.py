"""Trainer: presets parse, resume == uninterrupted, predict end to end, DDP with 2 gloo ranks."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from worldssm.cli import main
from worldssm.models import ConvLSTMVideoConfig, ConvS5VideoConfig, FrameTransformerConfig
from worldssm.train.checkpoint import load_checkpoint
from worldssm.train.config import MODEL_KEYS, load_config
from worldssm.train.distributed import spawn_local
from worldssm.train.trainer import train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = {"name": "convs5_tiny", "image_size": 16, "enc_channels": [4, 8], "state_size": 8}


def small_cfg(run_dir, steps=4, **run):
    return load_config(
        None,
        {
            "model": SMALL,
            "data": {"image_size": 16, "seq_len": 5, "num_digits": 1},
            "optim": {"batch_size": 2, "warmup_steps": 2},
            "run": {"steps": steps, "run_dir": str(run_dir), "checkpoint_every": 0, **run},
        },
    )


def test_presets_parse_and_override_keys_cover_models():
    # agent_*.yaml are `worldssm agent` configs, parsed in tests/train/test_agent.py
    presets = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("agent_"))
    assert len(presets) >= 3
    for p in presets:
        cfg = load_config(p)
        assert cfg.model["name"]
    fields = set()
    for cls in (ConvS5VideoConfig, ConvLSTMVideoConfig, FrameTransformerConfig):
        fields |= {f.name for f in dataclasses.fields(cls)}
    assert fields | {"name"} == set(MODEL_KEYS)
    with pytest.raises(ValueError, match="unknown optim"):
        load_config(None, {"optim": {"lrr": 1}})
    with pytest.raises(ValueError, match="worldssm agent"):
        load_config(CONFIGS / "agent_debug.yaml")


def test_resume_equals_uninterrupted(tmp_path):
    train(small_cfg(tmp_path / "a", steps=4), progress=False)
    train(small_cfg(tmp_path / "b", steps=4, max_minutes=None), progress=False)
    # interrupted: stop after 2 steps (a checkpoint), then resume to 4
    cfg = small_cfg(tmp_path / "c", steps=4)
    cfg_short = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, steps=2))
    train(cfg_short, progress=False)
    ck = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert ck["step"] == 2 and ck["config"]["run"]["steps"] == 2
    # the schedule length is part of the config: resume with the full config
    train(cfg, progress=False)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    c = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert c["step"] == 4
    for k, v in a["model"].items():
        torch.testing.assert_close(c["model"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    assert (tmp_path / "a" / "config.yaml").is_file()


def test_cli_train_then_predict(tmp_path, capsys):
    run_dir = tmp_path / "run"
    cfg = CONFIGS / "convs5_moving_digits_tiny.yaml"
    rc = main(
        ["train", "--config", str(cfg), "--run.steps", "2", "--run.run_dir", str(run_dir)]
        + ["--model.enc_channels", "[4, 8]", "--model.image_size", "16"]
        + ["--data.image_size", "16", "--model.state_size", "8"]
    )
    assert rc == 0
    out = tmp_path / "pred.mp4"
    rc = main(
        ["predict", "--checkpoint", str(run_dir / "checkpoint.pt"), "--context", "4"]
        + ["--horizon", "6", "--out", str(out), "--num-videos", "2"]
    )
    assert rc == 0 and out.stat().st_size > 0
    text = capsys.readouterr().out
    assert "PSNR" in text and "1-6" in text and "last frame" in text
    import json

    metrics = json.loads((tmp_path / "pred_metrics.json").read_text())
    for name in ("last_frame", "mean_frame"):
        rows = metrics["baselines"][name]
        assert [r["frames"] for r in rows] == [r["frames"] for r in metrics["buckets"]]
        assert all(r["mse"] > 0 for r in rows)
    # the first predicted frames, one PSNR each (horizon 6), for the model and both baselines
    first = metrics["first_frames_psnr"]
    assert sorted(first) == ["last_frame", "mean_frame", "model"]
    assert all(len(v) == 6 and all(0 < x < 100 for x in v) for v in first.values())
    assert "PSNR of predicted frame" in text and "mean frame" in text
    import decord

    assert len(decord.VideoReader(str(out))) == 10


@pytest.mark.slow
def test_ddp_two_gloo_ranks_match_single_process(tmp_path):
    port = 29500 + os.getpid() % 1000
    cfg = small_cfg(tmp_path / "ddp", steps=2)
    cfg.optim.batch_size = 1
    spawn_local(cfg, world=2, port=port)
    single = small_cfg(tmp_path / "single", steps=2)
    single.optim.batch_size = 2
    train(single, resume=False, progress=False)
    a = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "single" / "checkpoint.pt")["model"]
    # Adam normalises tiny gradients, so float noise in all-reduced grads can move a few
    # near-zero-gradient entries by up to ~lr; nearly all must agree to float precision.
    diffs = torch.cat([(a[k] - v).abs().flatten() for k, v in b.items()])
    assert diffs.max() < 1e-3, diffs.max()
    assert (diffs < 1e-6).float().mean() > 0.95, (diffs < 1e-6).float().mean()


TIME_IS_UP_WORKER = """
import sys, time
import torch
from worldssm.train.trainer import time_is_up

rank, port = int(sys.argv[1]), int(sys.argv[2])
torch.distributed.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2
)
# Rank 1's clock says its time ran out an hour ago, rank 0's that it has just started.
t0 = time.time() - (3600.0 if rank == 1 else 0.0)
print(time_is_up(t0, max_minutes=1.0, device=torch.device("cpu")))
torch.distributed.destroy_process_group()
"""


def test_ddp_ranks_take_rank0_time_decision(tmp_path):
    """A rank whose own clock ran out must not stop alone (it would hang the others)."""
    script = tmp_path / "worker.py"
    script.write_text(TIME_IS_UP_WORKER)
    port = str(28500 + os.getpid() % 1000)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(r), port], stdout=subprocess.PIPE, text=True
        )
        for r in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs == ["False", "False"]


def test_time_limited_run_ends_its_lr_schedule_in_time(tmp_path, monkeypatch, capsys):
    """A run cut by max_minutes decays its LR by the time it stops (fake clock: 1 s a reading)."""
    from worldssm.train import trainer

    clock = iter(range(10**6))
    monkeypatch.setattr(trainer, "_now", lambda: float(next(clock)))
    cfg = small_cfg(tmp_path / "t", steps=200, max_minutes=1.0)
    result = trainer.train(cfg)
    out = capsys.readouterr()
    assert 40 <= result["step"] < 200  # the 60 "seconds" ran out first
    assert "limit fits about" in out.out + out.err
    ck = load_checkpoint(tmp_path / "t" / "checkpoint.pt")
    lr = ck["scheduler"]["_last_lr"][0]
    assert lr < 0.05 * cfg.optim.lr, lr  # decayed, not ~0.9 x as with the 200-step schedule
    # A resume without a time limit follows the configured length again.
    cfg_more = small_cfg(tmp_path / "t", steps=result["step"] + 2)
    trainer.train(cfg_more, progress=False)
    ck = load_checkpoint(tmp_path / "t" / "checkpoint.pt")
    assert ck["scheduler"]["lr_lambdas"][0]["total"] == result["step"] + 2


def test_resume_says_so(tmp_path, capsys):
    cfg = small_cfg(tmp_path / "r", steps=2)
    train(cfg, progress=False)
    capsys.readouterr()
    train(cfg)  # the same command again: continues from the checkpoint, which is finished
    out = capsys.readouterr().out
    assert "resuming" in out and "step 2 of 2" in out and "nothing left to train" in out
