"""Reference voxel renderer: the plain version of :mod:`worldssm.envs.voxel`, kept to test it.

:func:`render_voxels_reference` draws the same frames as
:func:`~worldssm.envs.voxel.render_voxels`, written the direct way: a per-step list of cells,
per-pixel tests of every event ((B, W, H, E) booleans), per-pixel gathers of named per-cell
values and the texture index from its parts. It is slow and memory hungry but easy to read;
``tests/envs/test_render.py`` checks that both renderers draw identical frames. The float
operations that decide a pixel (edge rows, texel rows, top-face distance and texels) are the same
operations in both, so the frames match exactly.

The algorithm is described in :mod:`worldssm.envs.voxel`.
"""

from __future__ import annotations

import math

import torch

from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id
from worldssm.envs.voxel import SHADES, TABLE_STEP, VoxelCamera, VoxelScene


def _march(scene: VoxelScene, pos: torch.Tensor, rays: torch.Tensor, steps: int):
    """Cells crossed by every ray. Returns (B, W, N) tensors: entry distance, exit distance,
    flat cell index (-1 outside), x-face flag, and the hit point's coordinate along the face."""
    b, g = scene.height.shape[0], scene.height.shape[-1]
    px, py = pos[:, 0:1], pos[:, 1:2]
    dx, dy = rays[..., 0], rays[..., 1]
    ddx = 1.0 / dx.abs().clamp_min(1e-9)
    ddy = 1.0 / dy.abs().clamp_min(1e-9)
    mx = px.floor().int().expand_as(dx).contiguous()
    my = py.floor().int().expand_as(dy).contiguous()
    stx = torch.where(dx < 0, -1, 1).int()
    sty = torch.where(dy < 0, -1, 1).int()
    sdx = torch.where(dx < 0, (px - mx) * ddx, (mx + 1.0 - px) * ddx)
    sdy = torch.where(dy < 0, (py - my) * ddy, (my + 1.0 - py) * ddy)
    t_in = torch.zeros_like(dx)
    side = torch.zeros_like(dx, dtype=torch.bool)
    out_t_in, out_t_out, out_cell, out_side = [], [], [], []
    base = (torch.arange(b, device=pos.device, dtype=torch.int32) * g * g)[:, None]
    for _ in range(steps):
        inside = (mx >= 0) & (mx < g) & (my >= 0) & (my < g)
        out_cell.append(torch.where(inside, base + my * g + mx, -1))
        out_t_in.append(t_in)
        out_side.append(side)
        go_x = sdx < sdy
        t_next = torch.minimum(sdx, sdy)
        out_t_out.append(t_next)
        mx = mx + stx * go_x
        my = my + sty * ~go_x
        sdx = sdx + ddx * go_x
        sdy = sdy + ddy * ~go_x
        side, t_in = go_x, t_next
    t_in, t_out = torch.stack(out_t_in, -1), torch.stack(out_t_out, -1)
    cell, side = torch.stack(out_cell, -1), torch.stack(out_side, -1)
    # Along an x face the texture runs with y, along a y face with x (xface is 0 or 1).
    hx = torch.addcmul(py[..., None], t_in, dy[..., None])
    hy = torch.addcmul(px[..., None], t_in, dx[..., None])
    hit = torch.addcmul(hy, side, hx - hy)
    return t_in, t_out, cell, side, hit


def render_voxels_reference(
    scene: VoxelScene,
    pos: torch.Tensor,
    angle: torch.Tensor,
    eye: torch.Tensor,
    cam: VoxelCamera,
    atlas: Atlas,
) -> torch.Tensor:
    """Render a batch of first-person views of voxel terrain.

    Args:
        scene: terrain (see :class:`VoxelScene`). pos: (B, 2) camera (x, y). angle: (B,) heading.
        eye: (B,) camera height. cam: optics. atlas: textures on the same device.

    Returns:
        (B, H, W, 3) uint8 frames.

    Events in ray order: every cell the ray crosses, then the fog (below the horizon) and the
    sky. A pixel shows the first event whose upper edge is at or above it; in a cell, its front
    face below the face's top edge (cap texture in the first unit, side texture below), else its
    top face.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, dev = pos.shape[0], pos.device
    lit = lit_atlas(atlas, cam.fog_color, shades=SHADES)
    ss, stride3 = s * s, len(lit.shades) * lit.stride
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    steps = int(cam.view_distance * 1.45) + 2
    t_in, t_out, cell, xface, hit = _march(scene, pos, rays, steps)  # (B, W, N)

    valid = cell >= 0
    ci = cell.clamp_min(0).long()
    water = surface_id("water")

    def per_cell(x, default):
        return torch.where(valid, x.reshape(-1)[ci], default)

    hgt = per_cell(scene.height, scene.outside_height)
    top_tex, side_tex = per_cell(scene.top(), water), per_cell(scene.side(), water)
    cap_tex = per_cell(scene.cap(), water)
    rise = eye.view(b, 1, 1) - hgt  # eye above the top of the cell
    rf = rise * focal
    t_in_c = t_in.clamp_min(1e-3)
    far = t_in > cam.view_distance

    # Upper edge of each cell on the screen (rows from the first row): the top of its front face
    # or of its top face, whichever is higher; none for far cells or the camera's own front face.
    y0 = 0.5 - h / 2
    neg_y0 = torch.full((), -y0, device=dev)
    y_front = torch.addcdiv(neg_y0, rf, t_in_c)
    y_front[..., 0] = float("inf")
    y_edge = torch.minimum(torch.addcdiv(neg_y0, rf, t_out), y_front)
    y_edge = torch.where(far, float("inf"), y_edge)
    fog_sky = torch.tensor([0.0 - y0, -float("inf")], device=dev).expand(b, w, 2)
    first_row = torch.cat([y_edge, fog_sky], -1).clamp(0, h).ceil()  # (B, W, E)
    # Each pixel row r shows the first event whose first row is <= r.
    rows = torch.arange(h, device=dev, dtype=torch.float32)
    covers = first_row[:, :, None, :] <= rows[:, None]  # (B, W, H, E)
    ev = covers.int().argmax(-1)  # (B, W, H)
    n = steps
    is_cell, is_fog, is_sky = ev < n, ev == n, ev == n + 1
    ec = ev.clamp_max(n - 1)

    def px_val(x):  # per-cell (B, W, N) -> per-pixel (B, W, H)
        return x.gather(2, ec)

    # Texel rows below the cell's front-face top edge: G = floor(A + B y).
    yc = rows + y0
    a = torch.where(is_cell, px_val(rise * -s), 0.0)
    b_cell = (t_in_c * (s / focal)).clone()
    b_cell[..., 0] = 0.0  # the camera's own cell: only its top face
    bb = torch.where(is_cell, px_val(b_cell), 0.0)
    bb = torch.where(is_sky, -s / (h / 2), bb)
    gi = torch.addcmul(a, bb, yc).floor().to(torch.int32)
    front = (gi >= 0) | (yc <= 0)

    # Fog levels: a table over distance (TABLE_STEP entries per cell).
    n_tab = int(cam.view_distance * 2 * TABLE_STEP) + 2
    table = fog_level(torch.arange(n_tab, device=dev) / TABLE_STEP, cam.fog_density, lit.levels)
    table[-1] = lit.levels - 1

    # Front faces: the cap texture in the first unit below the edge, then the side texture; the
    # texel column where the ray enters the cell; shade by face direction; fog at the entry.
    u_front = px_val((hit * s).floor().to(torch.int32) & (s - 1))
    tex_front = torch.where(gi >= s, px_val(side_tex), px_val(cap_tex))
    shade = torch.where(px_val(xface), 1, 2)
    level = px_val(table[(t_in_c * TABLE_STEP).clamp(0, n_tab - 1).long()])
    idx_front = ((level * len(lit.shades) + shade) * lit.stride + tex_front * ss
                 + (gi & (s - 1)) * s + u_front)  # fmt: skip
    # The sky: clouds turning with the camera; the fog: the fog colour.
    heading = torch.atan2(rays[..., 1], rays[..., 0])
    sky_u = ((heading / (2 * math.pi) * 4 % 1) * s).to(torch.int32) & (s - 1)
    idx_sky = surface_id("clouds") * ss + (gi & (s - 1)) * s + sky_u[..., None]
    idx_front = torch.where(is_sky, idx_sky, idx_front)
    idx_front = torch.where(is_fog, (lit.levels - 1) * stride3, idx_front)

    # Top faces: distance t = rise f / y (as t S = A q, q = -f / y), texel (px + t rx, py + t ry).
    q = torch.full_like(yc, -focal) / yc
    ts = torch.where(front, 0.0, a * q)  # (rows at y = 0 of odd heights: q is infinite)
    u_top = torch.addcmul(pos[:, 0, None, None] * s, ts, rays[..., 0:1]).to(torch.int32)
    v_top = torch.addcmul(pos[:, 1, None, None] * s, ts, rays[..., 1:2]).to(torch.int32)
    level_top = table[(ts * (TABLE_STEP / s)).clamp(0, n_tab - 1).long()]
    idx_top = (level_top * stride3 + px_val(top_tex) * ss + (v_top & (s - 1)) * s
               + (u_top & (s - 1)))  # fmt: skip

    idx = torch.where(front, idx_front, idx_top)
    flat = idx.transpose(1, 2).reshape(-1)
    return lit.rgb.index_select(0, flat).view(b, h, w, 3)
