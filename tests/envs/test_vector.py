"""TorchVectorEnv: seeding, autoreset modes, terminated vs truncated, devices."""

import pytest
import torch
from gymnasium.vector import AutoresetMode

from worldssm.envs import make_vector


def _rollout(vec, seed, steps, actions_seed=0):
    gen = torch.Generator().manual_seed(actions_seed)
    obs, _ = vec.reset(seed=seed)
    out = [obs.clone()]
    for _ in range(steps):
        a = torch.randint(0, 3, (vec.num_envs,), generator=gen)
        obs, *_ = vec.step(a)
        out.append(obs.clone())
    return torch.stack(out)


CASES = [("MazeDMLab", {"maze_size": 4}), ("IndoorHabitat", {"size": 10, "image_size": 32})]


@pytest.mark.parametrize("name,cfg", CASES)
def test_seeded_rollouts_reproducible(name, cfg):
    a = _rollout(make_vector(name, 3, max_episode_steps=4, **cfg), 7, 10)
    b = _rollout(make_vector(name, 3, max_episode_steps=4, **cfg), 7, 10)
    c = _rollout(make_vector(name, 3, max_episode_steps=4, **cfg), 8, 10)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[:, 0], a[:, 1])  # envs differ from each other


def test_next_step_autoreset_semantics():
    vec = make_vector("MazeDMLab", 2, max_episode_steps=3, maze_size=4)
    obs0, info = vec.reset(seed=3)
    assert info["episode"].tolist() == [0, 0]
    for t in range(1, 4):
        obs, rew, term, trunc, info = vec.step(torch.tensor([2, 0]))
        assert trunc.tolist() == [t == 3, t == 3]
        assert not term.any()
    # The step after truncation ignores the action and returns episode 1's first frame.
    obs, rew, term, trunc, info = vec.step(torch.tensor([2, 2]))
    assert info["episode"].tolist() == [1, 1]
    assert rew.tolist() == [0.0, 0.0] and not term.any() and not trunc.any()
    fresh = make_vector("MazeDMLab", 2, max_episode_steps=3, maze_size=4)
    fresh.reset(seed=3)
    fresh._reset_envs(torch.arange(2))  # episode 1 of each env, directly
    assert torch.equal(obs, fresh.world.render())
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP


def test_same_step_autoreset_returns_final_obs():
    vec = make_vector("MazeDMLab", 2, max_episode_steps=2, maze_size=4, autoreset_mode="SameStep")
    vec.reset(seed=1)
    vec.step(torch.tensor([0, 0]))
    obs, rew, term, trunc, info = vec.step(torch.tensor([0, 0]))
    assert trunc.all() and info["_final_obs"].all()
    assert not torch.equal(obs, info["final_obs"])
    assert info["episode"].tolist() == [1, 1]


def test_terminated_is_not_truncated():
    vec = make_vector("MazeDMLab", 4, max_episode_steps=50, maze_size=2, terminate_on_goal=True)
    vec.reset(seed=0)
    seen_term = False
    for _ in range(120):
        obs, rew, term, trunc, info = vec.step(vec.expert_actions())
        assert not (term & trunc).any()
        assert torch.equal(rew > 0, term)
        seen_term |= bool(term.any())
    assert seen_term


def test_disabled_autoreset_with_mask():
    vec = make_vector("MazeDMLab", 2, max_episode_steps=2, maze_size=3, autoreset_mode="Disabled")
    vec.reset(seed=0)
    vec.step([0, 0])
    _, _, _, trunc, _ = vec.step([0, 0])
    assert trunc.all()
    obs, info = vec.reset(options={"reset_mask": torch.tensor([True, False])})
    assert info["episode"].tolist() == [1, 0]


def test_bad_actions_raise():
    vec = make_vector("MazeDMLab", 2, maze_size=3)
    with pytest.raises(RuntimeError):
        vec.step([0, 0])
    vec.reset(seed=0)
    with pytest.raises(ValueError):
        vec.step([0, 3])
    with pytest.raises(ValueError):
        vec.step([0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_cuda_matches_cpu():
    cpu = make_vector("MazeDMLab", 4, maze_size=4)
    gpu = make_vector("MazeDMLab", 4, maze_size=4, device="cuda")
    a, _ = cpu.reset(seed=0)
    b, _ = gpu.reset(seed=0)
    assert b.device.type == "cuda"
    assert (a.float() - b.cpu().float()).abs().mean() < 1.0
