"""Reference voxel renderer: the straightforward version kept to test the fast one against.

:func:`render_voxels_reference` is the renderer that :mod:`worldssm.envs.voxel` used before it
was restructured for speed (it builds a ``(B, W, 6, 3N + 2)`` coefficient tensor and gathers it per
pixel). It is slow and memory hungry but easy to read; ``tests/envs/test_render.py`` checks that
:func:`~worldssm.envs.voxel.render_voxels` draws the same frames.

The algorithm is described in :mod:`worldssm.envs.voxel`.
"""

from __future__ import annotations

import math

import torch

from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id
from worldssm.envs.voxel import VoxelCamera, VoxelScene


def _march(scene: VoxelScene, pos: torch.Tensor, rays: torch.Tensor, steps: int):
    """Cells crossed by every ray. Returns (B, W, N) tensors: entry distance, exit distance,
    flat cell index (-1 outside), x-face flag, and entry texture u."""
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
    hit = torch.where(
        side, py[..., None] + t_in * dy[..., None], px[..., None] + t_in * dx[..., None]
    )
    return t_in, t_out, cell, side, hit - hit.floor()


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

    Each cell the ray crosses yields three events, in ray order: the lower part of its front face,
    the top unit of its front face (grass edge, leaves) and its top face; fog (below the horizon)
    and sky (above it) come last.
    Every event is described by a few coefficients so that a pixel at screen row ``y`` (from the
    horizon) computes its distance ``t = at + ct / y`` and texel ``U = au + (ct / y) rx``,
    ``V = av + bv y + (ct / y) ry`` (``r`` the column's ray); one gather of the six coefficients
    then gives every pixel.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, dev = pos.shape[0], pos.device
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.82, 0.66))
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    steps = int(cam.view_distance * 1.45) + 2
    t_in, t_out, cell, xface, u_in = _march(scene, pos, rays, steps)  # (B, W, N)

    valid = cell >= 0
    ci = cell.clamp_min(0).long()
    water = surface_id("water")

    def per_cell(x, default):
        return torch.where(valid, x.reshape(-1)[ci], default)

    hgt = per_cell(scene.height, scene.outside_height)
    e = eye.view(b, 1, 1)
    rise = e - hgt  # eye above the top of the cell
    t_in_c = t_in.clamp_min(1e-3)
    far = t_in > cam.view_distance
    inf = torch.tensor(float("inf"), device=dev)
    y_top = torch.where(far, inf, rise * focal / t_out.clamp_min(1e-3))
    y_cap = torch.where(far, inf, rise * focal / t_in_c)
    y_cap[..., 0] = inf  # no front face for the camera's own cell
    y_low = torch.where(far, inf, (rise + 1) * focal / t_in_c)
    y_low[..., 0] = inf

    ss = s * s
    shade_side = torch.where(xface, 1, 2) * lit.stride
    base_top = per_cell(scene.top(), water) * ss
    base_cap = per_cell(scene.cap(), water) * ss + shade_side
    base_low = per_cell(scene.side(), water) * ss + shade_side
    zero = torch.zeros_like(t_in)
    px, py = pos[:, 0].view(b, 1, 1) * s, pos[:, 1].view(b, 1, 1) * s
    # Front faces: u fixed, v = (h - z) * S with z = eye - y * t / f; t fixed.
    side_av = -rise * s
    side_bv = t_in_c * (s / focal)
    side_u = u_in * s
    # Top faces: the plane z = h at distance t = rise * f / y; (x, y) = pos + t * ray.
    top_ct = rise * focal
    ev_y = torch.stack([y_low, y_cap, y_top], -1).flatten(-2)  # (B, W, 3N)

    # Coefficients per event: au, av, bv, at, ct, base -> (B, W, 6, 3N + 2); the last two events
    # are fog below the horizon (beyond the view distance) and the sky above it.
    n3 = 3 * t_in.shape[-1]
    coef = torch.empty(b, w, 6, n3 + 2, device=dev)

    def put(i, side, top):  # per-cell side / top values, written in event order
        out = coef[:, :, i, :n3].unflatten(-1, (-1, 3))
        out[..., 0], out[..., 1], out[..., 2] = side, side, top

    put(0, side_u, px.expand_as(zero))
    put(1, side_av, py.expand_as(zero))
    put(2, side_bv, zero)
    put(3, t_in_c, zero)
    put(4, zero, top_ct)
    put(5, base_low.float(), base_top.float())
    coef[:, :, 5, 1:n3:3] = base_cap.float()
    # The sky: clouds turning with the camera above the horizon, full fog below it.
    heading = torch.atan2(rays[..., 1], rays[..., 0])
    coef[:, :, :, n3:] = 0.0
    coef[:, :, 3, n3] = 1e4  # far away: the fog colour
    coef[:, :, 0, n3 + 1] = (heading / (2 * math.pi) * 4 % 1) * s
    coef[:, :, 2, n3 + 1] = -s / (h / 2)
    coef[:, :, 5, n3 + 1] = surface_id("clouds") * ss
    tail = torch.tensor([0.0, -float("inf")], device=dev).expand(b, w, 2)
    ev_y = torch.cat([ev_y, tail], -1)
    ev_y = torch.cummin(ev_y, -1).values

    yc = torch.arange(h, device=dev, dtype=torch.float32) + 0.5 - h / 2
    # Pixel row y takes the first event whose running minimum is <= y.
    e_idx = torch.searchsorted(
        (-ev_y).reshape(b * w, -1).contiguous(), (-yc).expand(b * w, h).contiguous()
    ).view(b, w, 1, h)
    px_coef = coef.gather(3, e_idx.expand(b, w, 6, h))  # (B, W, 6, H)
    au, av, bv, at, ct, base = px_coef.unbind(2)
    k = ct * (1.0 / yc).view(1, 1, h)  # top faces: distance = ct / y
    uu = torch.addcmul(au, k, rays[..., 0:1] * s).to(torch.int32) & (s - 1)
    vv = torch.addcmul(torch.addcmul(av, bv, yc.view(1, 1, h)), k, rays[..., 1:2] * s)
    vv = vv.to(torch.int32) & (s - 1)
    t = at + k
    table_step = 8.0  # fog table entries per cell of distance
    n_tab = int(cam.view_distance * 2 * table_step) + 2
    table = fog_level(torch.arange(n_tab, device=dev) / table_step, cam.fog_density, lit.levels)
    table[-1] = lit.levels - 1
    level = table[(t * table_step).clamp_(0, n_tab - 1).to(torch.int64)]
    idx = base.to(torch.int32) + vv * s + uu + level * (len(lit.shades) * lit.stride)
    flat = idx.transpose(1, 2).reshape(-1)
    return lit.rgb.index_select(0, flat).view(b, h, w, 3)
