"""Gymnasium API: registration, check_env, make_vec, single env == vector env 0."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import worldssm.envs as envs

SMALL = {
    "MazeDMLab": {"maze_size": 4},
    "VoxelMinecraft": {"size": 24, "image_size": 48, "view_distance": 12.0},
    "IndoorHabitat": {"size": 10, "image_size": 48, "max_rooms": 3},
}


@pytest.mark.parametrize("name", envs.WORLD_NAMES)
def test_registered_and_check_env(name):
    env = gym.make(f"worldssm/{name}-v0", **SMALL.get(name, {}))
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    env.close()


def test_default_sizes():
    for name, size in (("MazeDMLab", 64), ("VoxelMinecraft", 128), ("IndoorHabitat", 128)):
        env = gym.make(f"worldssm/{name}-v0")
        assert env.observation_space.shape == (size, size, 3)
        assert env.action_space.n == 3


def test_time_limit_from_registry():
    env = gym.make("worldssm/MazeDMLab-v0", maze_size=3)
    assert env.spec.max_episode_steps == 300


def test_make_vec_entry_point():
    v = gym.make_vec(
        "worldssm/MazeDMLab-v0", num_envs=3, vectorization_mode="vector_entry_point", maze_size=3
    )
    obs, _ = v.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.shape == (3, 64, 64, 3)


def test_single_env_replays_vector_env_zero():
    single = envs.WorldEnv("MazeDMLab", maze_size=4)
    vec = envs.make_vector("MazeDMLab", num_envs=2, maze_size=4)
    o1, _ = single.reset(seed=42)
    ov, _ = vec.reset(seed=42)
    assert np.array_equal(o1, ov[0].numpy())
    rng = np.random.default_rng(0)
    for _ in range(10):
        a = int(rng.integers(3))
        o1, *_ = single.step(a)
        ov, *_ = vec.step(torch.tensor([a, 0]))
        assert np.array_equal(o1, ov[0].numpy())


def test_bad_options_are_clear():
    with pytest.raises(TypeError, match="no option"):
        envs.make_world("MazeDMLab", maze_sise=3)
    with pytest.raises(KeyError, match="unknown world"):
        envs.make_world("Doom")
    env = envs.WorldEnv("MazeDMLab", maze_size=3)
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(7)


def test_worlds_import_without_gymnasium(tmp_path):
    """The bare worlds need only torch and NumPy (e.g. on a GPU box without gymnasium)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['gymnasium'] = None\n"
        "import torch, worldssm.envs as e\n"
        "w = e.make_world('MazeDMLab', 2, maze_size=3); w.reset(torch.arange(2), [0, 1])\n"
        "assert w.render().shape == (2, 64, 64, 3)\n"
        "try:\n    e.make_vector\nexcept ImportError as x:\n    print('hint:', x)\n"
    )
    # cwd: a source checkout in the working directory must not shadow the installed package.
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "pip install gymnasium" in out.stdout
