"""GraphedWorldStep: CUDA-graph replay of step + render equals the eager world."""

import pytest
import torch

from worldssm.envs import make_world
from worldssm.envs.graph import GraphedWorldStep

CASES = [
    ("MazeDMLab", {"maze_size": 4}),
    ("VoxelMinecraft", {"size": 24, "image_size": 32, "view_distance": 12.0}),
    ("IndoorHabitat", {"size": 10, "image_size": 32, "max_rooms": 3}),
    ("MultiDoorsKeys", {}),
]


def _pair(name, cfg, device, n=6):
    worlds = [make_world(name, n, device, **cfg) for _ in range(2)]
    for w in worlds:
        w.reset(torch.arange(n), list(range(n)))
    return worlds


def _compare(name, cfg, device, capture, steps=12):
    eager, graphed = _pair(name, cfg, device)
    runner = GraphedWorldStep(graphed, capture=capture)
    gen = torch.Generator().manual_seed(0)
    for t in range(steps):
        a = torch.randint(0, len(eager.actions), (eager.num_envs,), generator=gen).to(device)
        if t == 5:  # a reset between replays writes into the captured state tensors
            ids = torch.tensor([1, 4])
            for w in (eager, graphed):
                w.reset(ids, [100, 101])
        reward, term = eager.step(a)
        frames = runner.replay(a)
        assert torch.equal(frames, eager.render())
        assert torch.equal(runner.reward, reward) and torch.equal(runner.terminated, term)


@pytest.mark.parametrize("name,cfg", CASES)
def test_eager_runner_matches_world(name, cfg):
    _compare(name, cfg, "cpu", capture=False)


def test_capture_needs_cuda():
    w = make_world("MazeDMLab", 2, maze_size=3)
    with pytest.raises(ValueError, match="CUDA"):
        GraphedWorldStep(w)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name,cfg", CASES)
def test_cuda_graph_matches_eager(name, cfg):
    _compare(name, cfg, "cuda", capture=True)
