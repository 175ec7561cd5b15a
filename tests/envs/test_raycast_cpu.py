"""The grid raycaster's C kernel (``raycast_cpu``) draws exactly the frames of the torch ops
(``render_grid(..., kernel=False)``, and the fixed-shape mode), on one thread or several, for
every grid world, several image sizes (odd ones too) and batch sizes."""

import dataclasses

import pytest
import torch

from worldssm.envs import make_world, raycast_cpu
from worldssm.envs.raycast import render_grid

pytestmark = pytest.mark.skipif(raycast_cpu.cpu_kernel() is None,
                                reason="no C compiler: the C raycaster is not built")  # fmt: skip

WORLDS = {
    "MazeDMLab": {"maze_size": 4},
    "IndoorHabitat": {"size": 10, "max_rooms": 3},
    "FourRooms3D": {},
    "DistractingMemory": {},
    "MultiDoorsKeys": {},
}


def _draw(w, kernel, static=False, camera=None):
    return render_grid(w.scene, w.pos, w.angle, camera or w.camera, w.atlas, static,
                       w.uniform_floor, kernel=kernel)  # fmt: skip


def _walk(w, steps, seed):
    """Step ``w`` at random, with expert steps (goals, goal sprites) between; yield after each."""
    gen = torch.Generator().manual_seed(seed)
    for t in range(steps):
        a = torch.randint(0, len(w.actions), (w.num_envs,), generator=gen)
        w.step(w.expert_action() if t % 3 == 0 else a)
        yield t


@pytest.mark.parametrize("name", list(WORLDS))
@pytest.mark.parametrize("size", [33, 48])
def test_kernel_equals_torch_ops(name, size, monkeypatch):
    monkeypatch.setattr(raycast_cpu, "MIN_ENVS_PER_THREAD", 1)  # threads even for small batches
    n = 7
    w = make_world(name, n, image_size=size, **WORLDS[name])
    w.reset(torch.arange(n), list(range(40, 40 + n)))
    for t in _walk(w, 12, seed=size):
        if t % 4 == 0:
            frames = _draw(w, True)
            assert torch.equal(frames, _draw(w, False))
            if t == 0:
                assert torch.equal(frames, _draw(w, None, static=True))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("num_envs", [1, 5, 70])
def test_kernel_threads_and_batch_sizes(threads, num_envs, monkeypatch):
    monkeypatch.setattr(raycast_cpu, "MIN_ENVS_PER_THREAD", 2)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        w = make_world("IndoorHabitat", num_envs, image_size=40, size=10, max_rooms=3)
        w.reset(torch.arange(num_envs), [i % 9 for i in range(num_envs)])
        for _ in _walk(w, 3, seed=num_envs):
            pass
        frames = _draw(w, True)
        assert torch.get_num_threads() == threads  # the caller's setting is left as it was
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(frames, _draw(w, False))


def test_kernel_non_square_and_wide_images():
    w = make_world("MazeDMLab", 3, maze_size=4)
    w.reset(torch.arange(3), [5, 6, 7])
    for h, wd in ((37, 50), (64, 17), (8, 8)):
        for sky in (True, False):
            cam = dataclasses.replace(w.camera, height=h, width=wd, sky=sky)
            assert torch.equal(_draw(w, True, camera=cam), _draw(w, False, camera=cam))


def test_switched_off_falls_back_to_torch_ops(monkeypatch):
    monkeypatch.setattr(raycast_cpu, "_kernel", [])
    monkeypatch.setenv("WORLDSSM_RAYCAST_COMPILE", "0")
    assert raycast_cpu.cpu_kernel() is None
    w = make_world("MazeDMLab", 2, maze_size=4, image_size=32)
    w.reset(torch.arange(2), [1, 2])
    assert w.render().shape == (2, 32, 32, 3)
    with pytest.raises(RuntimeError, match="C raycaster"):
        _draw(w, True)


def test_float64_inputs_use_the_torch_ops():
    w = make_world("MazeDMLab", 2, maze_size=4, image_size=32)
    w.reset(torch.arange(2), [1, 2])
    pos, angle = w.pos.double(), w.angle.double()
    args = (w.scene, pos, angle, w.camera, w.atlas, False, w.uniform_floor)
    assert torch.equal(render_grid(*args), render_grid(*args, kernel=False))
    with pytest.raises(RuntimeError, match="C raycaster"):
        render_grid(*args, kernel=True)
