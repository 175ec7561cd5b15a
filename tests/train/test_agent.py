"""Actor-critic maths, the whole train_agent loop (save, load, resume with counters intact), the
agent presets and CLI, and memory evaluation."""

from pathlib import Path

import numpy as np
import pytest
import torch

import worldssm
from worldssm.train.actor_critic import ActorCritic, ActorCriticConfig, ReturnScale, lambda_returns
from worldssm.train.world_model_training import load_agent_config, train_agent

ROOT = Path(__file__).resolve().parents[2]


def test_lambda_returns_match_a_hand_loop():
    g = torch.Generator().manual_seed(0)
    n, h, disc, lam = 3, 6, 0.9, 0.8
    reward = torch.randn(n, h, generator=g)
    value = torch.randn(n, h + 1, generator=g)
    cont = (torch.rand(n, h, generator=g) > 0.3).float()
    got = lambda_returns(reward, value, cont, disc, lam)
    for i in range(n):
        nxt = float(value[i, h])
        want = [0.0] * h
        for t in range(h - 1, -1, -1):
            c = disc * float(cont[i, t])
            nxt = float(reward[i, t]) + c * ((1 - lam) * float(value[i, t + 1]) + lam * nxt)
            want[t] = nxt
        torch.testing.assert_close(got[i], torch.tensor(want))
    # λ = 0 is one-step TD targets.
    td = lambda_returns(reward, value, cont, disc, 0.0)
    torch.testing.assert_close(td, reward + disc * cont * value[:, 1:])
    with pytest.raises(ValueError, match="H\\+1"):
        lambda_returns(reward, value[:, :-1], cont, disc, lam)


def test_return_scale_tracks_the_percentile_range():
    scale = ReturnScale(decay=0.5)
    ret = torch.linspace(0, 100, 1001)
    assert float(scale.update(ret)) == pytest.approx(90.0, rel=1e-3)  # P95 - P5
    assert float(scale.update(ret * 0)) == pytest.approx(45.0, rel=1e-3)  # EMA
    small = ReturnScale()
    assert float(small.update(torch.linspace(0, 0.1, 100))) == 1.0  # max(1, S)


def test_actor_critic_loss_trains_both_and_slow_critic_follows():
    torch.manual_seed(0)
    ac = ActorCritic(8, 3, ActorCriticConfig(hidden=16, layers=1, slow_fraction=0.5))
    n, h = 5, 4
    traj = {"feat": torch.randn(n, h + 1, 8), "action": torch.randint(0, 3, (n, h)),
            "reward": torch.randn(n, h), "cont": torch.ones(n, h)}  # fmt: skip
    actor_loss, critic_loss, metrics = ac.loss(traj)
    (actor_loss + critic_loss).backward()
    assert ac.actor[-1].weight.grad.abs().sum() > 0 and ac.critic[-1].weight.grad.abs().sum() > 0
    assert ac.slow_critic[-1].weight.grad is None
    assert metrics["entropy"] == pytest.approx(np.log(3), rel=1e-3)  # zero-init actor: uniform
    opt = torch.optim.SGD(ac.critic.parameters(), lr=1.0)
    opt.step()
    before = ac.slow_critic[-1].bias.clone()
    ac.update_slow()
    after = ac.slow_critic[-1].bias
    torch.testing.assert_close(after, 0.5 * before + 0.5 * ac.critic[-1].bias.detach())


def test_actor_learns_the_rewarded_action_in_a_toy_imagination():
    torch.manual_seed(0)
    cfg = ActorCriticConfig(hidden=32, layers=1, actor_lr=1e-3, critic_lr=1e-3)
    ac = ActorCritic(4, 3, cfg)
    actor_opt, critic_opt = ac.optimizers()
    n, h = 64, 8
    for _ in range(150):
        feat = torch.randn(n, 1, 4).expand(n, h + 1, 4)  # the state never changes
        action = ac.act(feat[:, :-1])
        traj = {"feat": feat, "action": action, "reward": (action == 2).float(),
                "cont": torch.ones(n, h)}  # fmt: skip
        actor_loss, critic_loss, _ = ac.loss(traj)
        actor_opt.zero_grad()
        critic_opt.zero_grad()
        (actor_loss + critic_loss).backward()
        actor_opt.step()
        critic_opt.step()
        ac.update_slow()
    probs = ac.dist(torch.randn(100, 4)).probs.mean(0)
    assert probs[2] > 0.85, probs
    assert ac.value(torch.randn(100, 4)).mean() > 1.0  # the critic learned positive returns


def _tiny_cfg(tmp_path, model="s4wm_tiny", **run):
    return load_agent_config(None, {
        "model": {"name": model},
        "env": {"name": "MultiDoorsKeys", "num_envs": 2, "max_episode_steps": 12,
                "options": {"image_size": 32, "num_keys": 1}},
        "replay": {"batch_size": 2, "seq_len": 8, "chunk_size": 16},
        "ac": {"horizon": 4, "hidden": 16, "layers": 1, "start_chunks": 2},
        "run": {"env_steps": 48, "prefill": 32, "collect_steps": 4, "log_every": 1,
                "checkpoint_every": 2, "run_dir": str(tmp_path / "run"), **run},
    })  # fmt: skip


def test_train_agent_saves_loads_and_resumes(tmp_path):
    from worldssm.train.checkpoint import load_checkpoint

    cfg = _tiny_cfg(tmp_path)
    first = train_agent(cfg, progress=False)
    assert first["env_steps"] == 48 and first["updates"] == 3  # iterations at 32, 40, 48 steps
    run = Path(cfg.run.run_dir)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert (ckpt["env_steps"], ckpt["updates"]) == (48, 3)
    assert np.isfinite(first["last_metrics"]["wm/loss"])
    rows = (run / "episodes.csv").read_text().splitlines()
    assert rows[0] == "env_step,return,length" and len(rows) - 1 == first["episodes"] >= 2
    assert (run / "replay" / "manifest.json").is_file() and (run / "config.yaml").is_file()
    weights = {k: v.clone() for k, v in ckpt["model"].items()}

    cfg.run.env_steps = 64  # resume: counters go on from the checkpoint
    second = train_agent(cfg, progress=False)
    assert second["env_steps"] == 64 and second["updates"] == 5
    ckpt2 = load_checkpoint(run / "checkpoint.pt")
    assert ckpt2["updates"] == 5
    changed = [k for k, v in ckpt2["model"].items() if not torch.equal(v, weights[k])]
    assert changed  # training went on from the loaded weights
    steps = [int(r.split(",")[0]) for r in (run / "episodes.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps)
    with pytest.raises(FileExistsError):
        train_agent(cfg, resume=False, progress=False)


def test_resume_with_an_in_memory_replay_refills_before_training(tmp_path):
    cfg = _tiny_cfg(tmp_path, model="rssm_tiny")
    cfg.replay.on_disk = False
    assert train_agent(cfg, progress=False)["updates"] == 3
    assert not (Path(cfg.run.run_dir) / "replay").exists()
    cfg.run.env_steps = 64  # 2 more iterations: 5 then 9 steps per stream, seq_len 8
    assert train_agent(cfg, progress=False)["updates"] == 4


def test_trained_agent_evaluates_against_random(tmp_path):
    from worldssm.train.world_model_training import evaluate_agent

    cfg = _tiny_cfg(tmp_path, model="rssm_tiny", env_steps=40)
    summary = train_agent(cfg, progress=False)
    result = evaluate_agent(summary["checkpoint"], episodes=2, device="cpu")
    assert set(result) >= {"agent", "random"} and len(result["agent"]["returns"]) == 2


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs").glob("agent_*.yaml")), ids=lambda p: p.name
)
@pytest.mark.parametrize("family", ["s4wm", "rssm", "transformer_wm"])
def test_agent_presets_build_every_family(path, family):
    import warnings

    from worldssm.train.world_model_training import build_world_model

    cfg = load_agent_config(path, {"model": {"name": family}} if "debug" not in path.name else {})
    size = cfg.env.options.get("image_size", 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # family-specific keys the others lack
        model = build_world_model(cfg, 3, size)
    assert model.cfg.action_dim == 3 and model.cfg.image_size == size
    with pytest.raises(ValueError, match="unknown run option"):
        load_agent_config(path, {"run": {"stepz": 1}})


def test_cli_model_keys_are_world_model_fields():
    import dataclasses

    from worldssm.commands.agent import MODEL_KEYS
    from worldssm.registry import model_config

    fields = set()
    for name in ("s4wm", "rssm", "transformer_wm"):
        fields |= {f.name for f in dataclasses.fields(model_config(name))}
    assert set(MODEL_KEYS) <= fields, set(MODEL_KEYS) - fields
    from worldssm.commands.agent import SECTION_FIELDS
    from worldssm.train.world_model_training import SECTIONS

    for section, names in SECTION_FIELDS.items():  # every typed field has its --section.key
        want = {f.name for f in dataclasses.fields(SECTIONS[section])} - {"name"}
        assert set(names.split()) == want, section


def test_cli_agent_smoke(tmp_path, capsys):
    from worldssm.cli import main

    run = tmp_path / "cli"
    argv = ["agent", "--env", "MultiDoorsKeys", "--model", "s4wm_tiny",
            "--config", str(ROOT / "configs/agent_debug.yaml"), "--run.run_dir", str(run),
            "--run.env_steps", "40", "--run.prefill", "32", "--env.num_envs", "2",
            "--replay.seq_len", "8", "--replay.batch_size", "2", "--ac.horizon", "3",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert '"env_steps": 48' in capsys.readouterr().out
    assert (run / "checkpoint.pt").is_file()


def test_memory_eval_metrics_and_video(tmp_path):
    from worldssm.train.collect import read_mp4
    from worldssm.train.memory_eval import (
        coin_flip_expert,
        generation_video,
        imagination_mse,
        reward_accuracy,
        rollout_episodes,
    )

    torch.manual_seed(0)
    model = worldssm.create_model("s4wm_tiny", action_dim=3)
    opts = dict(image_size=32, hallway_length=2, num_distractors=1)
    eps = rollout_episodes("DistractingMemory", 4, 70, coin_flip_expert, seed=1, **opts)
    assert eps["obs"].shape == (4, 70, 32, 32, 3) and eps["is_first"][:, 0].all()
    assert sorted(eps["reward"].sum(1)) == [-1, -1, -1, 1]  # both end rooms are visited
    assert not eps["valid"].all()  # episodes ended before 70 frames
    res = imagination_mse(model, eps, context=5, horizon=20, bucket=10)
    assert len(res["per_step"]) == 20 and len(res["buckets"]) == 2 and res["mse"] > 0
    assert res["mse_sum"] == pytest.approx(res["mse"] * 32 * 32 * 3)
    acc = reward_accuracy(model, eps, context=5)
    assert acc["scored_posterior"] == 4 and 0.0 <= acc["posterior"] <= 1.0
    with pytest.raises(ValueError, match="context"):
        imagination_mse(model, eps, context=60, horizon=20)
    path = generation_video(model, eps, tmp_path / "gen.mp4", context=5, horizon=10, num=2)
    video = read_mp4(path)
    assert video.shape[0] == 15 and video.shape[2] == 2 * 32 + 2


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_world_models_benchmark_quick(tmp_path):
    import json

    out = tmp_path / "wm.json"
    assert _script("world_models").main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["command"] and result["device"] and result["date"]
    rows = {r["model"]: r for r in result["results"]}
    assert set(rows) == {"s4wm_tiny", "rssm_tiny", "transformer_wm_tiny"}
    for row in rows.values():
        assert [t["seq_len"] for t in row["train"]] == [8, 16]
        assert all(t["frames_per_s"] > 0 for t in row["train"])
        assert row["imagine"]["latent_frames_per_s"] > 0 and row["imagine"]["decoded_s"] > 0
    assert result["ratios"]["imagine_rssm_over_s4wm"] > 0


def test_memory_study_quick(tmp_path):
    import json

    out = tmp_path / "mem.json"
    assert _script("memory_study").main(["--quick", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    for task in ("MultiDoorsKeys", "DistractingMemory"):
        for model in ("s4wm_tiny", "rssm_tiny"):
            row = res[task][model]
            assert row["train_steps"] == 2 and row["generation"]["mse"] > 0
    acc = res["DistractingMemory"]["rssm_tiny"]["reward_accuracy"]
    assert acc["scored_posterior"] >= 1 and 0.0 <= acc["posterior"] <= 1.0


def test_agent_benchmark_quick(tmp_path):
    import json

    out = tmp_path / "agent.json"
    argv = ["--quick", "--seeds", "0", "--run-root", str(tmp_path / "runs"), "--out", str(out)]
    assert _script("agent_gpu").main(argv) == 0
    result = json.loads(out.read_text())
    assert result["overall"]["seeds"] == 1 and result["per_seed"][0]["env_steps"] == 48
    assert {"agent_mean", "random_mean"} <= set(result["overall"])
