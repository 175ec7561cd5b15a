"""The world model as a Gymnasium env: env_checker, seeding, termination/truncation, errors."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import worldssm
from worldssm.envs.imagined_env import ImaginedEnv, contexts_from_replay


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return worldssm.create_model("s4wm_tiny", action_dim=3)


def _contexts(n=3, k=5, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return {"obs": rng.integers(0, 256, (n, k, size, size, 3), dtype=np.uint8),
            "action": rng.integers(0, 3, (n, k))}  # fmt: skip


@pytest.mark.filterwarnings("ignore:.*spec")
def test_env_checker_and_spaces(model):
    env = ImaginedEnv(model, _contexts(), max_episode_steps=10, render_mode="rgb_array")
    check_env(env, skip_render_check=False)
    assert env.observation_space.shape == (32, 32, 3) and env.action_space.n == 3
    made = gym.make("worldssm/Imagined-v0", model=model, contexts=_contexts())
    obs, info = made.reset(seed=0)
    assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8 and "context" in info


def test_seeded_runs_repeat_and_differ_between_seeds(model):
    env = ImaginedEnv(model, _contexts(), max_episode_steps=50)

    def run(seed):
        frames, rewards = [env.reset(seed=seed)[0]], []
        for a in (0, 2, 1, 2):
            obs, r, *_ = env.step(a)
            frames.append(obs)
            rewards.append(r)
        return np.stack(frames), rewards

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    assert not np.array_equal(a[0], c[0])  # another clip or other latent samples


def _with_cont_bias(model, bias, fn):
    """Run ``fn`` with the continue head's output bias set to ``bias`` (then restore it)."""
    head = model.cont_head[-1]
    saved = head.bias.detach().clone()
    with torch.no_grad():
        head.bias.fill_(bias)
    try:
        return fn()
    finally:
        with torch.no_grad():
            head.bias.copy_(saved)


def test_termination_from_continue_head_and_truncation(model):
    env = ImaginedEnv(model, _contexts(), max_episode_steps=3)

    def episode():
        env.reset(seed=0, options={"context": 1})
        return [env.step(1)[2:4] for _ in range(3)]

    # Continue probability ~1: truncated at max_episode_steps, never terminated.
    assert _with_cont_bias(model, 50.0, episode) == [(False, False)] * 2 + [(False, True)]
    # ~0: the first imagined step ends the episode.
    assert _with_cont_bias(model, -50.0, episode)[0] == (True, False)


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match="32x32"):
        ImaginedEnv(model, _contexts(size=16))
    with pytest.raises(ValueError, match="action"):
        ImaginedEnv(model, {"obs": _contexts()["obs"], "action": np.zeros((3, 4), int)})
    env = ImaginedEnv(model, _contexts())
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(5)
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"context": 9})


def test_contexts_from_replay(model):
    from worldssm.train.replay import ReplayBuffer

    buf = ReplayBuffer(num_streams=2, chunk_size=4)
    for t in range(10):
        obs = np.full((2, 32, 32, 3), t, np.uint8)
        first = np.full(2, t == 0)
        step = {"action": np.ones(2, int), "reward": np.zeros(2), "cont": np.ones(2)}
        buf.add({"obs": obs, "is_first": first, **step})
    ctx = contexts_from_replay(buf, num=4, length=6)
    assert ctx["obs"].shape == (4, 6, 32, 32, 3) and ctx["is_first"][:, 0].all()
    obs, info = ImaginedEnv(model, ctx).reset(seed=1)
    assert obs.shape == (32, 32, 3) and 0 <= info["context"] < 4
