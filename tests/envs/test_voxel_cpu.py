"""VoxelMinecraft on the CPU: the threaded render (shares of the batch on single-threaded
workers) draws exactly the frames of one thread and of the reference renderer."""

import pytest
import torch

from worldssm.envs import make_world
from worldssm.envs.voxel_reference import render_voxels_reference

CFG = {"size": 24, "image_size": 32, "view_distance": 12.0}


def test_threaded_render_equals_single_thread_and_reference():
    n = 7  # odd: unequal shares
    worlds = [make_world("VoxelMinecraft", n, **CFG) for _ in range(2)]
    for w in worlds:
        w.reset(torch.arange(n), list(range(30, 30 + n)))
    worlds[0].cpu_min_envs_per_thread = 1  # split even this small batch
    worlds[1].cpu_min_envs_per_thread = n + 1  # never split
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert worlds[0]._render_threads() == 2 and worlds[1]._render_threads() == 1
        gen = torch.Generator().manual_seed(0)
        for _ in range(5):
            a = torch.randint(0, 3, (n,), generator=gen)
            for w in worlds:
                w.step(a)
            frames = [w.render() for w in worlds]
            w = worlds[0]
            ref = render_voxels_reference(w.scene, w.pos, w.angle, w.eye(), w.camera, w.atlas)
            assert torch.equal(frames[0], frames[1]) and torch.equal(frames[0], ref)
        assert torch.get_num_threads() == 2  # the caller's setting is left as it was
    finally:
        torch.set_num_threads(saved)


def test_fixed_shape_mode_renders_on_the_calling_thread():
    w = make_world("VoxelMinecraft", 40, **CFG)
    w.static_shapes = True
    assert w._render_threads() == 1


@pytest.mark.parametrize("kernel", [False, True], ids=["torch-ops", "c-kernel"])
def test_passes_and_chunks_equal_reference(monkeypatch, kernel):
    """Passes, per-pixel chunks and per-cell chunks of unequal sizes draw the reference frames."""
    from worldssm.envs import voxel, voxel_cpu

    if kernel and voxel_cpu.cpu_kernel() is None:
        pytest.skip("the C voxel renderer is not available (no C compiler?)")
    if not kernel:
        monkeypatch.setattr(voxel_cpu, "_kernel", [None])  # as if it did not build: torch ops
    n = 7
    w = make_world("VoxelMinecraft", n, **CFG)
    w.reset(torch.arange(n), list(range(50, 50 + n)))
    w.cpu_min_envs_per_thread = n + 1  # one share
    px = CFG["image_size"] ** 2
    w.cpu_pixels_per_pass = 3 * px  # passes of 3, 3 and 1 envs
    w.cpu_pixels_per_chunk = 2 * px  # chunks of 2 and 1 envs
    monkeypatch.setattr(voxel, "_CELL_COLUMNS", 2 * CFG["image_size"])
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        w.step(torch.randint(0, 3, (n,), generator=gen))
        ref = render_voxels_reference(w.scene, w.pos, w.angle, w.eye(), w.camera, w.atlas)
        assert torch.equal(w.render(), ref)


@pytest.mark.parametrize("image_size", [64, 128])
def test_c_kernel_equals_reference_at_full_size(image_size):
    """The compiled C renderer at the worlds' own sizes (64x64 grid, view distance 24)."""
    from worldssm.envs import voxel, voxel_cpu

    if voxel_cpu.cpu_kernel() is None:
        pytest.skip("the C voxel renderer is not available (no C compiler?)")
    n = 4
    w = make_world("VoxelMinecraft", n, image_size=image_size)
    w.reset(torch.arange(n), list(range(70, 70 + n)))
    gen = torch.Generator().manual_seed(2)
    for _ in range(4):
        w.step(torch.randint(0, 3, (n,), generator=gen))
        args = (w.scene, w.pos, w.angle, w.eye(), w.camera, w.atlas)
        fast = voxel.render_voxels(*args, kernel=True)
        assert torch.equal(fast, render_voxels_reference(*args))
        assert torch.equal(fast, voxel.render_voxels(*args, kernel=False))


def test_without_the_c_kernel_torch_ops_draw(monkeypatch):
    """No kernel (WORLDSSM_VOXEL_COMPILE=0, no compiler, failed build): the torch ops draw the
    same frames, and asking for the kernel raises."""
    from worldssm.envs import voxel, voxel_cpu

    monkeypatch.setenv("WORLDSSM_VOXEL_COMPILE", "0")
    monkeypatch.setattr(voxel_cpu, "_kernel", [])  # not tried yet in this process
    assert voxel_cpu.cpu_kernel() is None and voxel_cpu._kernel == [None]
    w = make_world("VoxelMinecraft", 3, **CFG)
    w.reset(torch.arange(3), [1, 2, 3])
    args = (w.scene, w.pos, w.angle, w.eye(), w.camera, w.atlas)
    with pytest.raises(RuntimeError):
        voxel.render_voxels(*args, kernel=True)
    assert torch.equal(w.render(), render_voxels_reference(*args))


def test_c_kernel_never_sees_non_finite_positions():
    """NaN/inf camera positions go to the torch ops, which raise (the C march would index memory
    with them and crash the process); far but finite positions render (clamped to the border)."""
    from worldssm.envs import voxel_cpu

    if voxel_cpu.cpu_kernel() is None:
        pytest.skip("the C voxel renderer is not available (no C compiler?)")
    w = make_world("VoxelMinecraft", 3, **CFG)
    w.reset(torch.arange(3), [1, 2, 3])
    w.pos.copy_(torch.tensor([[1e30, 3.0], [-3.4e38, 3.4e38], [3.0, -1e20]]))
    assert w.render().shape == (3, 32, 32, 3)
    w.pos.copy_(torch.tensor([[float("nan"), 1.0], [1.0, float("inf")], [2.0, 2.0]]))
    with pytest.raises(IndexError):
        w.render()
