"""Data collection: TECO formats, manifest, atomic writes, resume after a crash, CLI."""

import json

import numpy as np
import pytest
import torch

from worldssm.train import collect as col
from worldssm.train.collect import CollectConfig, collect, load_episode
from worldssm.train.policies import RandomPolicy, Streams

MAZE = {"maze_size": 4}


def _cfg(tmp_path, name="d", **kw):
    base = dict(env="MazeDMLab", out=str(tmp_path / name), episodes=5, length=12, num_envs=2,
                shard_size=3, env_options=MAZE)  # fmt: skip
    base.update(kw)
    return CollectConfig(**base)


def test_npz_round_trip_and_manifest(tmp_path):
    cfg = _cfg(tmp_path)
    summary = collect(cfg, progress=False)
    assert summary["written"] == 5
    ep = load_episode(tmp_path / "d" / "train" / "1" / "1.npz")  # episode 4
    assert ep["video"].shape == (12, 64, 64, 3) and ep["video"].dtype == np.uint8
    assert ep["actions"].shape == (12,) and ep["actions"].dtype == np.int64
    assert set(np.unique(ep["actions"])) <= {0, 1, 2}
    man = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert man["episodes_done"] == 5 and man["actions"] == ["look_left", "look_right", "forward"]
    assert [f["path"] for f in man["files"]][:2] == ["train/0/0.npz", "train/0/1.npz"]
    assert not list((tmp_path / "d").rglob(".*tmp*"))  # no temporary files left


def test_video_follows_actions(tmp_path):
    """Frame t+1 is the world after actions[t]: replaying the actions reproduces the video."""
    from worldssm.envs import make_world
    from worldssm.envs.world import episode_seed

    cfg = _cfg(tmp_path, episodes=1, num_envs=1, policy="random")
    collect(cfg, progress=False)
    ep = load_episode(tmp_path / "d" / "train" / "0" / "0.npz")
    w = make_world("MazeDMLab", 1, **MAZE)
    w.reset(torch.tensor([0]), [episode_seed(0, 0, 0)])
    for t in range(cfg.length):
        assert np.array_equal(w.render()[0].numpy(), ep["video"][t])
        w.step(torch.tensor([int(ep["actions"][t])]))


def test_action_repeat(tmp_path):
    """With action_repeat=3 each recorded action advances the world three steps."""
    from worldssm.envs import make_world
    from worldssm.envs.world import episode_seed

    cfg = _cfg(tmp_path, episodes=1, num_envs=1, policy="random", action_repeat=3)
    collect(cfg, progress=False)
    ep = load_episode(tmp_path / "d" / "train" / "0" / "0.npz")
    w = make_world("MazeDMLab", 1, **MAZE)
    w.reset(torch.tensor([0]), [episode_seed(0, 0, 0)])
    for t in range(cfg.length):
        assert np.array_equal(w.render()[0].numpy(), ep["video"][t])
        for _ in range(3):
            w.step(torch.tensor([int(ep["actions"][t])]))


def test_mp4_format_for_habitat(tmp_path):
    cfg = _cfg(tmp_path, env="IndoorHabitat", episodes=2, length=8,
               env_options={"size": 10, "image_size": 32, "max_rooms": 3})  # fmt: skip
    collect(cfg, progress=False)
    d = tmp_path / "d" / "train" / "0"
    assert (d / "0.mp4").exists() and (d / "0.npz").exists()
    assert "video" not in np.load(d / "0.npz")
    ep = load_episode(d / "0.npz")
    assert ep["video"].shape == (8, 32, 32, 3) and ep["actions"].shape == (8,)
    raw = collect_raw_first_frame(cfg)
    assert np.abs(ep["video"][0].astype(int) - raw.astype(int)).mean() < 8  # H.264, lossy


def collect_raw_first_frame(cfg):
    from worldssm.envs import make_world
    from worldssm.envs.world import episode_seed

    w = make_world(cfg.env, 1, **cfg.env_options)
    w.reset(torch.tensor([0]), [episode_seed(cfg.seed, 0, 0)])
    return w.render()[0].numpy()


def test_resume_after_crash_matches_uninterrupted_run(tmp_path, monkeypatch):
    full = _cfg(tmp_path, "full", policy="random")
    collect(full, progress=False)

    crashy = _cfg(tmp_path, "crashy", policy="random")
    real_save, calls = col._atomic_save_npz, {"n": 0}

    def save_then_crash(path, **arrays):
        calls["n"] += 1
        if calls["n"] == 4:  # mid-way through the second batch
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_name(f".{path.stem}.tmp-1.npz").write_bytes(b"partial")
            raise KeyboardInterrupt("simulated crash")
        real_save(path, **arrays)

    monkeypatch.setattr(col, "_atomic_save_npz", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        collect(crashy, progress=False)
    monkeypatch.setattr(col, "_atomic_save_npz", real_save)
    summary = collect(crashy, progress=False)
    assert summary == {"written": 2, "skipped": 3, "out": crashy.out}
    for e in range(5):
        rel = col.episode_path(full, e).relative_to(full.out).with_suffix(".npz")
        a, b = load_episode(tmp_path / "full" / rel), load_episode(tmp_path / "crashy" / rel)
        assert np.array_equal(a["video"], b["video"]) and np.array_equal(a["actions"], b["actions"])
    man = json.loads((tmp_path / "crashy" / "manifest.json").read_text())
    assert man["episodes_done"] == 5


def test_resume_with_other_config_refuses(tmp_path):
    collect(_cfg(tmp_path, episodes=1, num_envs=1), progress=False)
    with pytest.raises(ValueError, match="different"):
        collect(_cfg(tmp_path, episodes=1, num_envs=1, length=13), progress=False)


def test_expert_collects_rewards(tmp_path):
    cfg = _cfg(tmp_path, episodes=2, length=150, env_options={"maze_size": 3})
    collect(cfg, progress=False)
    rewards = [load_episode(tmp_path / "d" / "train" / "0" / f"{i}.npz")["rewards"] for i in (0, 1)]
    assert all(r.sum() >= 1 for r in rewards)


def test_custom_callable_policy(tmp_path):
    def always_forward(obs, state):
        return torch.full((obs.shape[0],), 2), state

    cfg = _cfg(tmp_path, episodes=2)
    collect(cfg, policy=always_forward, progress=False)
    ep = load_episode(tmp_path / "d" / "train" / "0" / "1.npz")
    assert (ep["actions"] == 2).all()


def test_streams_independent_of_batch():
    a = Streams([5, 6, 7])
    b = Streams([6])
    for _ in range(5):
        ua, ub = a.uniform(), b.uniform()
        assert ua[1] == ub[0] and 0 < float(ua.min()) and float(ua.max()) < 1
    p = RandomPolicy(3, [1, 2], repeat=0.5)
    act, state = p(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), None)
    assert act.shape == (2,) and ((act >= 0) & (act < 3)).all()


def test_cli_collect(tmp_path, capsys):
    from worldssm.cli import main

    out = tmp_path / "cli"
    argv = ["collect", "--env", "MazeDMLab", "--episodes", "2", "--length", "5", "--policy",
            "random", "--out", str(out), "--set", "maze_size=3", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0  # resumed: nothing left to do
    assert "wrote 0 episodes, kept 2" in capsys.readouterr().out
    assert len(list(out.rglob("*.npz"))) == 2


def test_bad_config():
    with pytest.raises(ValueError):
        CollectConfig(length=1)
    with pytest.raises(ValueError):
        CollectConfig(video_format="gif")
    with pytest.raises(ValueError):
        CollectConfig(action_repeat=0)


def test_policy_factory_from_cli_string(tmp_path, monkeypatch):
    (tmp_path / "my_agent.py").write_text(
        "import torch\n"
        "def make(world):\n"
        "    return lambda obs, state: (torch.zeros(obs.shape[0], dtype=torch.long), state)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    collect(_cfg(tmp_path, episodes=1, num_envs=1, policy="my_agent:make"), progress=False)
    ep = load_episode(tmp_path / "d" / "train" / "0" / "0.npz")
    assert (ep["actions"] == 0).all()


def test_expert_epsilon_mixes_random_actions():
    from worldssm.envs import make_world
    from worldssm.train.policies import ExpertPolicy

    w = make_world("MazeDMLab", 64, maze_size=3)
    w.reset(torch.arange(64), list(range(64)))
    obs = w.render()
    pure, _ = ExpertPolicy(w, list(range(64)))(obs, None)
    noisy, _ = ExpertPolicy(w, list(range(64)), epsilon=0.5)(obs, None)
    assert torch.equal(pure, w.expert_action())
    assert 0 < int((pure != noisy).sum()) < 64
