"""Procedural layouts: connectivity, shapes, reproducibility."""

import numpy as np
import pytest

from worldssm.envs import layouts


@pytest.mark.parametrize("size", [3, 7, 9])
def test_maze_is_connected_and_bordered(size):
    m = layouts.maze(np.random.default_rng(size), size)
    assert m.shape == (2 * size + 1, 2 * size + 1)
    assert not m[0].any() and not m[-1].any() and not m[:, 0].any() and not m[:, -1].any()
    assert m[1::2, 1::2].all()  # every corridor cell is open
    assert layouts.reachable(m, (1, 1)).sum() == m.sum()


def test_maze_reproducible_from_seed():
    a = layouts.maze(np.random.default_rng(5), 7)
    b = layouts.maze(np.random.default_rng(5), 7)
    c = layouts.maze(np.random.default_rng(6), 7)
    assert (a == b).all() and (a != c).any()


def test_apartment_rooms_connected():
    for seed in range(5):
        apt = layouts.apartment(np.random.default_rng(seed), 14, max_rooms=5)
        assert apt.n_rooms >= 3
        start = tuple(np.argwhere(apt.open)[0])
        assert layouts.reachable(apt.open, start).sum() == apt.open.sum()
        assert (apt.room[apt.open] >= 0).all()


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        layouts.maze(np.random.default_rng(0), 1)
    with pytest.raises(ValueError):
        layouts.apartment(np.random.default_rng(0), 6, min_room=4)


def test_terrain_range():
    h = layouts.terrain(np.random.default_rng(0), 32, 6)
    assert h.shape == (32, 32) and h.min() == 0 and h.max() == 6
