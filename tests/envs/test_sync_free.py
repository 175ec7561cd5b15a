"""step() + render() run without host-device syncs and with fixed shapes (``static_shapes``).

Checked on CPU tensors with ``sync_free.SyncFreeCheck`` (fixture ``sync_free_check``): what
would stall a GPU shows up as an aten op on any device. The static mode draws exactly the frames
of the CPU default (which may compact finished rays and skip columns without sprites).
"""

import pytest
import torch

from worldssm.envs import WORLD_NAMES, make_world

SMALL = {
    "MazeDMLab": {"maze_size": 4},
    "VoxelMinecraft": {"size": 24, "image_size": 32, "view_distance": 12.0},
    "IndoorHabitat": {"size": 10, "image_size": 32, "max_rooms": 3},
}


def _world(name, n=4, static=True):
    w = make_world(name, n, **SMALL.get(name, {"image_size": 32}))
    w.static_shapes = static
    w.reset(torch.arange(n), list(range(20, 20 + n)))
    return w


@pytest.mark.parametrize("name", WORLD_NAMES)
def test_step_and_render_are_sync_free(name, sync_free_check):
    w = _world(name)
    gen = torch.Generator().manual_seed(0)
    actions = [torch.randint(0, len(w.actions), (4,), generator=gen) for _ in range(6)]
    w.step(actions[0])
    w.render()  # first call: caches (lit atlas, workspaces) may be built here
    with sync_free_check() as check:
        for a in actions[1:]:
            w.step(a)
            w.render()
    assert not check.violations, check.report()


@pytest.mark.parametrize("name", WORLD_NAMES)
def test_static_mode_draws_the_same_frames(name):
    worlds = [_world(name, 5, static) for static in (False, True)]
    gen = torch.Generator().manual_seed(1)
    for t in range(25):
        a = torch.randint(0, len(worlds[0].actions), (5,), generator=gen)
        if t % 3 == 0 and name != "VoxelMinecraft":
            a = worlds[0].expert_action()  # walk to goals too (rewards, goal sprites)
        out = [w.step(a) for w in worlds]
        assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
        assert torch.equal(worlds[0].render(), worlds[1].render())


def test_checker_flags_syncs(sync_free_check):
    x = torch.arange(6.0)
    with sync_free_check() as check:
        x[x > 2].sum()  # boolean-mask index
        x.nonzero()
        float(x.max())  # .item()
        torch.tensor([1, 2])  # host data
        torch.where(x > 2, x, 0.0).clamp(0, 4)  # fine
    names = [op for op, _ in check.violations]
    assert "aten::index" in names and "aten::nonzero" in names
    assert "aten::_local_scalar_dense" in names and "aten::lift_fresh" in names
    assert check.ops["aten::where"] == 1 and "aten::where" not in names


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_steps_without_resets_are_sync_free(mode, sync_free_check):
    """A world that never terminates: the vector env finds truncations from host step counts."""
    from worldssm.envs import make_vector

    vec = make_vector("VoxelMinecraft", 3, max_episode_steps=3, autoreset_mode=mode,
                      **SMALL["VoxelMinecraft"])  # fmt: skip
    vec.world.static_shapes = True
    vec.reset(seed=0)
    a = torch.tensor([0, 1, 2])
    episodes = []
    for t in range(7):
        if t in (0, 1, 4):  # steps that neither end nor restart an episode
            with sync_free_check() as check:
                _, _, term, trunc, info = vec.step(a)
            assert not check.violations, check.report()
        else:
            _, _, term, trunc, info = vec.step(a)
        assert not term.any()
        episodes.append(info["episode"].tolist()[0])
        assert bool(trunc.all()) == (t in ((2, 6) if mode == "NextStep" else (2, 5)))
    assert episodes == ([0, 0, 0, 1, 1, 1, 1] if mode == "NextStep" else [0, 0, 1, 1, 1, 2, 2])
