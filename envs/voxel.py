"""Batched first-person renderer for voxel heightmap terrain (2.5-D voxel DDA).

Every column of the terrain is a stack of blocks from the ground to ``height[y, x]``. A DDA ray per
screen column walks the cells it crosses; each cell contributes two *events*: the front face where
the ray enters it and the top face up to where it leaves it. Projected to the screen, an event
covers the rows below its upper edge that nearer events have not covered yet, so a running
minimum over the events' screen rows and one ``searchsorted`` per column give every pixel its
event. Pixels then get textures (block faces tile per unit), face shading and exponential fog
through one gather into a :class:`~worldssm.envs.textures.LitAtlas`.

Coordinates as in :mod:`worldssm.envs.raycast`: ``height[b, y, x]``, camera at ``(x, y)``
looking along ``(cos angle, sin angle)``, z up. Outside the map is water at ``outside_height``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id


@dataclass(frozen=True)
class VoxelCamera:
    """Image size and optics of the voxel camera."""

    height: int = 128
    width: int = 128
    fov_deg: float = 70.0
    view_distance: float = 24.0  # cells; farther terrain is lost in the fog
    fog_density: float = 0.09
    fog_color: tuple[float, float, float] = (0.72, 0.8, 0.9)


@dataclass
class VoxelScene:
    """Terrain of ``B`` worlds on a ``G x G`` grid.

    Attributes:
        height: (B, G, G) float, top of each column of blocks.
        top: (B, G, G) long, texture of the top face.
        side: (B, G, G) long, texture of the side faces.
        cap: (B, G, G) long, texture of the uppermost unit of the side faces (grass edge, leaves).
        outside_height: height of the water plane outside the map.
    """

    height: torch.Tensor
    top: torch.Tensor
    side: torch.Tensor
    cap: torch.Tensor
    outside_height: float = 0.8


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


def render_voxels(scene: VoxelScene, pos: torch.Tensor, angle: torch.Tensor, eye: torch.Tensor,
                  cam: VoxelCamera, atlas: Atlas) -> torch.Tensor:  # fmt: skip
    """Render a batch of first-person views of voxel terrain.

    Args:
        scene: terrain (see :class:`VoxelScene`). pos: (B, 2) camera (x, y). angle: (B,) heading.
        eye: (B,) camera height. cam: optics. atlas: textures on the same device.

    Returns:
        (B, H, W, 3) uint8 frames.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, dev = pos.shape[0], pos.device
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.82, 0.66))
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    steps = int(cam.view_distance * 1.45) + 2
    t_in, t_out, cell, xface, u_in = _march(scene, pos, rays, steps)  # (B, W, N)

    flat_h = scene.height.reshape(-1)
    valid = cell >= 0
    ci = cell.clamp_min(0).long()
    hgt = torch.where(valid, flat_h[ci], scene.outside_height)
    e = eye.view(b, 1, 1)
    yc_top = (
        (e - hgt) * focal / t_out.clamp_min(1e-3)
    )  # screen row (from the horizon) of the top edge
    yc_side = (e - hgt) * focal / t_in.clamp_min(1e-3)
    yc_side[..., 0] = float("inf")  # no front face for the camera's own cell
    far = t_in > cam.view_distance
    yc_top = torch.where(far, float("inf"), yc_top)
    yc_side = torch.where(far, float("inf"), yc_side)
    # Events in ray order: side_0, top_0, side_1, top_1, ... (event 2k + 1 is the top of cell k).
    ev = torch.stack([yc_side, yc_top], -1).flatten(-2)  # (B, W, 2N)
    ev = torch.cummin(ev, -1).values
    yc = torch.arange(h, device=dev, dtype=torch.float32) + 0.5 - h / 2  # (H,)
    # Pixel row y takes the first event whose running minimum is <= y.
    e_idx = torch.searchsorted(
        (-ev).reshape(b * w, -1).contiguous(), (-yc).expand(b * w, h).contiguous()
    ).view(b, w, h)
    n_ev = ev.shape[-1]
    sky = e_idx >= n_ev
    k = (e_idx.clamp_max(n_ev - 1) // 2).long()
    is_top = (e_idx % 2) == 1

    def pick(x):  # (B, W, N) -> (B, W, H), the value of each pixel's cell
        return x.gather(-1, k)

    p_cell, p_h, p_t_in = pick(ci), pick(hgt), pick(t_in)
    p_valid, p_xface, p_u = pick(valid), pick(xface), pick(u_in)
    ycv = yc.view(1, 1, h)
    # Top faces: distance where the pixel's ray meets the plane z = height.
    t_top = (e - p_h) * focal / ycv.clamp_min(1e-3)
    t = torch.where(is_top, t_top, p_t_in).clamp_min(1e-3)
    wx = pos[:, 0, None, None] + t * rays[..., 0:1]
    wy = pos[:, 1, None, None] + t * rays[..., 1:2]
    z = e - ycv * t / focal
    tu = torch.where(is_top, wx - wx.floor(), p_u)
    below = p_h - z  # depth of the pixel below the top of its column
    tv = torch.where(is_top, wy - wy.floor(), below - below.floor())
    water = surface_id("water")
    top_t = torch.where(p_valid, scene.top.reshape(-1)[p_cell], water)
    side_t = torch.where(p_valid, scene.side.reshape(-1)[p_cell], water)
    cap_t = torch.where(p_valid, scene.cap.reshape(-1)[p_cell], water)
    tex = torch.where(is_top, top_t, torch.where(below < 1, cap_t, side_t))
    shade = torch.where(is_top, 0, torch.where(p_xface, 1, 2))
    level = fog_level(t, cam.fog_density, lit.levels)
    texel = (tv * s).long().clamp(0, s - 1) * s + (tu * s).long().clamp(0, s - 1)
    idx = (level * len(lit.shades) + shade) * lit.stride + tex * (s * s) + texel
    # Sky: clouds that turn with the camera above the horizon, fog colour below it.
    heading = torch.atan2(rays[..., 1], rays[..., 0])[..., None]
    su = ((heading / (2 * math.pi) * 4 % 1) * s).long().clamp(0, s - 1)
    sv = ((-ycv / (h / 2)).clamp(0, 0.999) * s).long()
    sky_idx = surface_id("clouds") * s * s + sv * s + su
    fog_idx = (lit.levels - 1) * len(lit.shades) * lit.stride
    sky_idx = torch.where(ycv < 0, sky_idx, fog_idx)
    idx = torch.where(sky, sky_idx, idx)
    flat = idx.transpose(1, 2).reshape(-1)
    return lit.rgb.index_select(0, flat).view(b, h, w, 3)
