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


# --- graph=True: step + render through GraphedWorldStep -----------------------------------------

GRAPH_CASES = [
    ("MazeDMLab", {"maze_size": 4}),
    ("MultiDoorsKeys", {}),  # terminates: restarts mid-rollout
    ("VoxelMinecraft", {"size": 24, "image_size": 32, "view_distance": 12.0}),
]


def _steps(vec, steps=14, seed=5):
    """Every output of a seeded random rollout; observations kept without copying (a graph's
    static buffers must not leak into them)."""
    gen = torch.Generator().manual_seed(0)
    obs, info = vec.reset(seed=seed)
    out = [(obs, info["episode"])]
    for _ in range(steps):
        a = torch.randint(0, len(vec.world.actions), (vec.num_envs,), generator=gen)
        obs, rew, term, trunc, info = vec.step(a.to(vec.device))
        out.append((obs, rew, term, trunc, info["episode"], info.get("final_obs")))
    return out


def _graphed(name, cfg, device, mode):
    vec = make_vector(name, 5, device=device, max_episode_steps=4, autoreset_mode=mode, **cfg)
    if device == "cpu":  # the runner's eager twin: same code path as a capture, no graph
        vec._graph, vec._graph_capture = True, False
    else:
        vec = make_vector(name, 5, device=device, max_episode_steps=4, autoreset_mode=mode,
                          graph=True, **cfg)  # fmt: skip
    return vec


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            assert (u is None and v is None) or torch.equal(u, v)


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
@pytest.mark.parametrize("name,cfg", GRAPH_CASES)
def test_graph_path_equals_eager(name, cfg, mode):
    eager = make_vector(name, 5, max_episode_steps=4, autoreset_mode=mode, **cfg)
    _assert_same(_steps(_graphed(name, cfg, "cpu", mode)), _steps(eager))


def test_graph_needs_cuda():
    with pytest.raises(ValueError, match="graph=True needs a world on a CUDA device"):
        make_vector("MazeDMLab", 2, maze_size=4, graph=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
@pytest.mark.parametrize("name,cfg", GRAPH_CASES)
def test_cuda_graph_equals_eager(name, cfg):
    eager = make_vector(name, 5, device="cuda", max_episode_steps=4, **cfg)
    _assert_same(_steps(_graphed(name, cfg, "cuda", "NextStep")), _steps(eager))
