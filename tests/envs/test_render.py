"""Renderers: shapes, textures, parallax, batch independence, fog."""

import math

import pytest
import torch

from worldssm.envs import make_world
from worldssm.envs.raycast import CameraConfig
from worldssm.envs.textures import SPRITES, SURFACES, build_atlas, lit_atlas

SMALL = {
    "MazeDMLab": {"maze_size": 4},
    "VoxelMinecraft": {"size": 24, "image_size": 48, "view_distance": 12.0},
    "IndoorHabitat": {"size": 10, "image_size": 48, "max_rooms": 3},
}


def test_atlas_deterministic_and_complete():
    a = build_atlas()
    assert a.count == len(SURFACES) + len(SPRITES)
    assert a.rgb.shape == (a.count * a.size * a.size, 3) and a.rgb.dtype == torch.float32
    assert 0 <= float(a.rgb.min()) and float(a.rgb.max()) <= 1
    import worldssm.envs.textures as t

    t._CACHE.clear()
    b = build_atlas()
    assert torch.equal(a.rgb, b.rgb) and torch.equal(a.alpha, b.alpha)
    # Sprites have transparent texels, surfaces none.
    n_surf = len(SURFACES) * a.size**2
    assert a.alpha[:n_surf].all() and not a.alpha[n_surf:].all()


def test_lit_atlas_levels():
    a = build_atlas()
    lit = lit_atlas(a, (0.5, 0.5, 0.5), shades=(1.0, 0.5), levels=4)
    assert lit.rgb.shape == (4 * 2 * a.rgb.shape[0], 3) and lit.rgb.dtype == torch.uint8
    last = lit.rgb[3 * 2 * lit.stride :]  # full fog: every texel is the fog colour
    assert (last.int() - 128).abs().max() <= 1


@pytest.mark.parametrize("name", list(SMALL))
def test_render_shapes_and_batch_independence(name):
    w4 = make_world(name, 4, **SMALL[name])
    w4.reset(torch.arange(4), [10, 11, 12, 13])
    frames = w4.render()
    h, w, c = w4.image_shape
    assert frames.shape == (4, h, w, c) and frames.dtype == torch.uint8
    assert frames.float().std() > 10  # textured, not flat
    w1 = make_world(name, 1, **SMALL[name])
    w1.reset(torch.tensor([0]), [12])
    assert torch.equal(w1.render()[0], frames[2])  # env 2 does not depend on its batch mates


@pytest.mark.parametrize("name", list(SMALL))
def test_motion_changes_view(name):
    w = make_world(name, 1, **SMALL[name])
    w.reset(torch.tensor([0]), [3])
    before = w.render()
    w.step(torch.tensor([1]))  # a turn in every world
    turned = w.render()
    assert (before.float() - turned.float()).abs().mean() > 1


def test_parallax_near_moves_more_than_far():
    """Stepping sideways shifts a near wall's image more than a far wall's."""
    from worldssm.envs.raycast import camera_rays, cast_columns

    walls = torch.full((1, 12, 12), -1, dtype=torch.long)
    walls[0, 0, :] = walls[0, -1, :] = walls[0, :, 0] = walls[0, :, -1] = 0
    rays = camera_rays(torch.tensor([0.0]), 16, 60.0)
    d0, *_ = cast_columns(walls, torch.tensor([[6.0, 6.0]]), rays, 30)
    d1, *_ = cast_columns(walls, torch.tensor([[8.0, 6.0]]), rays, 30)
    assert torch.allclose(d0, torch.full_like(d0, 5.0), atol=1e-4)  # perpendicular: no fish-eye
    assert torch.allclose(d1, torch.full_like(d1, 3.0), atol=1e-4)


def test_fog_grows_with_distance():
    """Fog changes far walls more than near ones (compare with a fog-free camera)."""
    import dataclasses

    w = make_world("MazeDMLab", 1, maze_size=4)
    w.reset(torch.tensor([0]), [1])
    w.scene.walls[:] = -1
    w.scene.walls[0, :, 0] = w.scene.walls[0, :, -1] = 0
    w.scene.walls[0, 0, :] = w.scene.walls[0, -1, :] = 0
    w.scene.sprite_tex[:] = -1
    w.angle[:] = 0.0
    foggy = w.camera
    clear = dataclasses.replace(foggy, fog_density=0.0)
    change = []
    for x in (6.5, 1.5):  # 1.5 cells from the east wall, then 6.5 cells
        w.pos[:] = torch.tensor([[x, 4.5]])
        a = w.render()[0, 30:34].float()
        w.camera = clear
        b = w.render()[0, 30:34].float()
        w.camera = foggy
        change.append(float((a - b).abs().mean()))
    assert change[1] > 2 * change[0] > 0


def test_camera_config_validation():
    with pytest.raises(ValueError):
        CameraConfig(height=4)
    with pytest.raises(ValueError):
        CameraConfig(eye_z=2.0, wall_height=1.0)
    assert math.isclose(CameraConfig().fov_deg, 60.0)


@pytest.mark.parametrize("kernel", [False, True], ids=["torch-ops", "c-kernel"])
@pytest.mark.parametrize(
    "image_size,max_pixels", [(48, None), (64, 1 << 12), (32, 1 << 20), (33, 1 << 12)]
)
def test_voxel_renderer_matches_reference(image_size, max_pixels, kernel):
    """The fast voxel renderer draws exactly the reference's frames (both compute the edge rows,
    texel rows and top-face texels with the same float operations), in one pass or in chunks of
    columns, at even and odd image heights; with torch ops and with the compiled C kernel."""
    from worldssm.envs import voxel_cpu
    from worldssm.envs.voxel import render_voxels
    from worldssm.envs.voxel_reference import render_voxels_reference

    if kernel and voxel_cpu.cpu_kernel() is None:
        pytest.skip("the C voxel renderer is not available (no C compiler?)")
    w = make_world("VoxelMinecraft", 6, size=24, image_size=image_size, view_distance=12.0)
    w.reset(torch.arange(6), list(range(6)))
    gen = torch.Generator().manual_seed(0)
    ws: dict = {}
    for _ in range(6):
        w.step(torch.randint(0, 3, (6,), generator=gen))
        args = (w.scene, w.pos, w.angle, w.eye(), w.camera, w.atlas)
        fast = render_voxels(*args, max_pixels=max_pixels, workspace=ws, kernel=kernel)
        ref = render_voxels_reference(*args)
        assert fast.shape == ref.shape and fast.dtype == torch.uint8
        assert torch.equal(fast, ref)


def test_voxel_scene_border_and_views():
    """Maps written through ``height`` / ``faces`` land in the padded storage the renderer
    reads; the border stays outside water; slices share it."""
    from worldssm.envs.textures import surface_id
    from worldssm.envs.voxel import VoxelScene, pack_faces

    top, side, cap = torch.full((2, 4, 4), 12), torch.full((2, 4, 4), 14), torch.full((2, 4, 4), 13)
    scene = VoxelScene(torch.zeros(2, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int32), 1.5)
    scene.height[1] = 3.0
    scene.faces[:] = pack_faces(top, side, cap)
    assert scene.padded_height.shape == (2, 6, 6) and float(scene.padded_height[1, 2, 2]) == 3.0
    assert float(scene.padded_height[1, 0, 0]) == 1.5
    water = surface_id("water")
    assert int(scene.padded_faces[0, 0, 3]) == int(pack_faces(*(torch.tensor(water),) * 3))
    assert torch.equal(scene.top(), top) and torch.equal(scene.side(), side)
    assert torch.equal(scene.cap(), cap)
    part = scene.slice(1, 2)
    part.height[0, 0, 0] = 7.0
    assert float(scene.padded_height[1, 1, 1]) == 7.0
    with pytest.raises(ValueError):
        pack_faces(torch.tensor(40), torch.tensor(1), torch.tensor(1))


def test_voxel_workspace_reuse_does_not_leak_between_calls():
    """Frames returned earlier are not overwritten by later renders that reuse the workspace."""
    w = make_world("VoxelMinecraft", 2, **SMALL["VoxelMinecraft"])
    w.reset(torch.arange(2), [5, 6])
    first = w.render()
    kept = first.clone()
    w.step(torch.tensor([1, 2]))
    second = w.render()
    assert torch.equal(first, kept) and not torch.equal(first, second)
