"""Scripted experts reach their goals; the Minecraft walker keeps moving."""

import torch

from worldssm.envs import make_world


def _reach_rate(world, steps):
    reached = torch.zeros(world.num_envs, dtype=torch.bool)
    for _ in range(steps):
        r, _ = world.step(world.expert_action())
        reached |= r > 0
    return reached


def test_maze_expert_reaches_goals():
    w = make_world("MazeDMLab", 8)  # default 7x7 maze: paths up to ~60 cells
    w.reset(torch.arange(8), list(range(100, 108)))
    assert _reach_rate(w, 450).all()


def test_habitat_expert_reaches_goals():
    w = make_world("IndoorHabitat", 6, image_size=32)
    w.reset(torch.arange(6), list(range(6)))
    assert _reach_rate(w, 300).all()


def test_habitat_agent_never_enters_solid_cells():
    w = make_world("IndoorHabitat", 4, image_size=32)
    w.reset(torch.arange(4), list(range(4)))
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        w.step(torch.randint(0, 3, (4,), generator=gen))
        cell = w.pos.floor().long()
        assert not w.solid[torch.arange(4), cell[:, 1], cell[:, 0]].any()


def test_minecraft_walker_moves_and_stays_on_map():
    w = make_world("VoxelMinecraft", 4, size=32, image_size=32)
    w.reset(torch.arange(4), list(range(4)))
    start = w.pos.clone()
    for _ in range(100):
        w.step(w.expert_action())
    assert ((w.pos - start).norm(dim=-1) > 2).all()
    assert ((w.pos >= 0) & (w.pos < 32)).all()
