"""Batched first-person renderer for voxel heightmap terrain (2.5-D voxel DDA).

Every column of the terrain is a stack of blocks from the ground to ``height[y, x]``. A DDA ray per
screen column walks the cells it crosses; each cell contributes three *events* in ray order: the
lower part of the front face where the ray enters it, the top unit of that face (grass edge,
leaves) and the top face up to where the ray leaves it. Projected to the screen, an event covers
the rows below its upper edge that nearer events have not covered yet: every pixel shows the
first event (in ray order) whose upper edge is at or above it. Pixels then get textures (block
faces tile per unit), face shading and exponential fog through one gather into a
:class:`~worldssm.envs.textures.LitAtlas`.

Coordinates as in :mod:`worldssm.envs.raycast`: ``height[b, y, x]``, camera at ``(x, y)``
looking along ``(cos angle, sin angle)``, z up. Outside the map is water at ``outside_height``.

Cost: the march and all per-event work run once per screen column (``C = B * W`` columns, laid
out step- or event-major, ``(N, C)`` and ``(E, C)``, so every op reads contiguous rows and nothing
is transposed); per pixel, a scatter-min finds each row's event, then three gathers, about twenty
elementwise passes over chunks that stay in cache, and the final colour gather. Large buffers are
reused between frames (``workspace``): on the CPU, touching freshly allocated pages costs more
than the arithmetic. The straightforward version this replaced is kept in
:mod:`worldssm.envs.voxel_reference`; the tests check that both draw the same frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id

_FACE_BITS = 8  # texture ids < 256: top | side << 8 | cap << 16 in one int32


@dataclass(frozen=True)
class VoxelCamera:
    """Image size and optics of the voxel camera."""

    height: int = 128
    width: int = 128
    fov_deg: float = 70.0
    view_distance: float = 24.0  # cells; farther terrain is lost in the fog
    fog_density: float = 0.09
    fog_color: tuple[float, float, float] = (0.72, 0.8, 0.9)


def pack_faces(top: torch.Tensor, side: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
    """Pack three texture-id tensors (same shape, ids < 256) into one int32 tensor."""
    top, side, cap = (torch.as_tensor(x).int() for x in (top, side, cap))
    return top | (side << _FACE_BITS) | (cap << (2 * _FACE_BITS))


@dataclass
class VoxelScene:
    """Terrain of ``B`` worlds on a ``G x G`` grid.

    Attributes:
        height: (B, G, G) float, top of each column of blocks.
        faces: (B, G, G) int32, the column's textures packed by :func:`pack_faces`: its top face,
            its side faces, and the uppermost unit of its side faces (grass edge, leaves). One
            packed gather per cell the rays cross instead of three.
        outside_height: height of the water plane outside the map.
    """

    height: torch.Tensor
    faces: torch.Tensor
    outside_height: float = 0.8

    def top(self) -> torch.Tensor:
        """(B, G, G) long texture of the top faces."""
        return (self.faces & 255).long()

    def side(self) -> torch.Tensor:
        """(B, G, G) long texture of the side faces."""
        return ((self.faces >> _FACE_BITS) & 255).long()

    def cap(self) -> torch.Tensor:
        """(B, G, G) long texture of the uppermost unit of the side faces."""
        return ((self.faces >> (2 * _FACE_BITS)) & 255).long()

    def slice(self, lo: int, hi: int) -> VoxelScene:
        """The terrain of environments ``lo:hi`` (views, no copies)."""
        return VoxelScene(self.height[lo:hi], self.faces[lo:hi], self.outside_height)


def _buffer(ws: dict | None, name: str, shape: tuple, dtype=torch.float32, device=None):
    """An uninitialised tensor, reused from the workspace ``ws`` when one of that shape is there.

    Why: on the CPU, freshly allocated large tensors are handed out as new pages by the OS and
    first touching them costs more than the arithmetic done on them; reusing the same buffers
    from frame to frame skips that. Only intermediates live here, never returned tensors.
    """
    if ws is None:
        return torch.empty(shape, dtype=dtype, device=device)
    t = ws.get(name)
    if t is None or t.shape != shape or t.dtype != dtype or t.device != torch.device(device):
        t = ws[name] = torch.empty(shape, dtype=dtype, device=device)
    return t


def _march(scene: VoxelScene, pos: torch.Tensor, rays: torch.Tensor, steps: int,
           ws: dict | None = None):  # fmt: skip
    """The first ``steps`` cells crossed by every ray, step-major.

    Args:
        scene: the terrain. pos: (B, 2) camera (x, y). rays: (B, W, 2) ray directions.
        steps: N, the number of cells to walk.

    Returns:
        t_in, t_out: (N, C) float entry / exit distances (C = B * W columns, env-major);
        xface: (N, C) bool, True where the ray entered the cell through an x face;
        hgt: (N, C) float column heights; faces: (N, C) int32 packed textures (water outside);
        u: (N, C) float in [0, 1), texture u where the ray enters the cell.
    """
    b, w = rays.shape[:2]
    g, c, dev = scene.height.shape[-1], b * w, pos.device
    px = pos[:, 0:1].expand(b, w).reshape(c)
    py = pos[:, 1:2].expand(b, w).reshape(c)
    dx, dy = rays[..., 0].reshape(c), rays[..., 1].reshape(c)
    ddx = 1.0 / dx.abs().clamp_min(1e-9)
    ddy = 1.0 / dy.abs().clamp_min(1e-9)
    mx, my = px.floor(), py.floor()  # current cell, as exact float integers
    stx = torch.where(dx < 0, -1.0, 1.0)
    sty = torch.where(dy < 0, -1.0, 1.0)
    sdx = torch.where(dx < 0, (px - mx) * ddx, (mx + 1.0 - px) * ddx)
    sdy = torch.where(dy < 0, (py - my) * ddy, (my + 1.0 - py) * ddy)

    # The loop only updates (C,) state and writes one row of each (N, C) buffer; everything that
    # is a pure function of the cell is computed afterwards in a few passes over whole buffers.
    cx = _buffer(ws, "cx", (steps, c), device=dev)
    cy = _buffer(ws, "cy", (steps, c), device=dev)
    t_out = _buffer(ws, "t_out", (steps, c), device=dev)
    t_in = _buffer(ws, "t_in", (steps, c), device=dev)
    xface = _buffer(ws, "xface", (steps, c), torch.bool, dev)
    xface[0].fill_(False)  # fill_, not a setitem: no host scalar tensor in a CUDA graph
    for n in range(steps):
        cx[n], cy[n] = mx, my
        torch.minimum(sdx, sdy, out=t_out[n])
        if n + 1 == steps:
            break
        go_x = torch.lt(sdx, sdy, out=xface[n + 1])
        gx = go_x.float()
        gy = 1.0 - gx
        mx.addcmul_(stx, gx)  # gx, gy are 0 or 1: these add exactly a step or nothing
        my.addcmul_(sty, gy)
        sdx.addcmul_(ddx, gx)
        sdy.addcmul_(ddy, gy)
    t_in[0].fill_(0.0)
    t_in[1:] = t_out[:-1]

    ix, iy = cx.int(), cy.int()
    # Off the map: ix or iy < 0 (then ix | iy < 0) or >= g (then max(ix, iy) >= g).
    outside = torch.bitwise_or(ix, iy).lt(0).logical_or_(torch.maximum(ix, iy) >= g)
    base = torch.arange(b, device=dev, dtype=torch.int32)[:, None] * (g * g)
    base = base.expand(b, w).reshape(c)
    cell = (iy * g).add_(ix).add_(base).masked_fill_(outside, 0).view(-1)
    hgt = scene.height.reshape(-1).index_select(0, cell).view(steps, c)
    hgt.masked_fill_(outside, scene.outside_height)
    faces = scene.faces.reshape(-1).index_select(0, cell).view(steps, c)
    water = surface_id("water")
    faces.masked_fill_(outside, water | (water << _FACE_BITS) | (water << (2 * _FACE_BITS)))
    hit = torch.where(xface, py + t_in * dy, px + t_in * dx)
    return t_in, t_out, xface, hgt, faces, hit - hit.floor()


def render_voxels(scene: VoxelScene, pos: torch.Tensor, angle: torch.Tensor, eye: torch.Tensor,
                  cam: VoxelCamera, atlas: Atlas, max_pixels: int | None = None,
                  workspace: dict | None = None) -> torch.Tensor:  # fmt: skip
    """Render a batch of first-person views of voxel terrain.

    Args:
        scene: terrain (see :class:`VoxelScene`). pos: (B, 2) camera (x, y). angle: (B,) heading.
        eye: (B,) camera height. cam: optics. atlas: textures on the same device.
        max_pixels: largest number of pixels shaded in one pass (None: all at once); the per
            pixel stage runs over chunks of whole environments of about this many pixels.
        workspace: a dict kept between calls (one per world) whose buffers are reused.

    Returns:
        (B, H, W, 3) uint8 frames.

    Every event is described by three values so that a pixel at screen row ``y`` (from the
    horizon) finds its atlas index with a few integer operations:

    - front faces (and the sky and the fog beyond the view distance): a constant ``K`` (texture,
      texel column, shade and fog level) plus the texel row ``V = A + B y``;
    - top faces (marked by a negative ``K``, whose complement is the texture base): the distance
      is ``t = A / y`` and the texel ``(px + t rx, py + t ry)`` with the fog level of ``t``.

    The shading arithmetic is the same, operation for operation, as in
    :func:`~worldssm.envs.voxel_reference.render_voxels_reference`; only the test of which event a
    pixel shows is computed differently (first covered row per event instead of a comparison per
    pixel), so a pixel can differ where an event's edge lies within float rounding of the pixel
    centre: a few pixels per million in the tests, which require >= 99.99% identical pixels.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, dev, ws = pos.shape[0], pos.device, workspace
    c = b * w
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.82, 0.66))
    ss, stride3 = s * s, len(lit.shades) * lit.stride
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    steps = int(cam.view_distance * 1.45) + 2
    t_in, t_out, xface, hgt, faces, u_in = _march(scene, pos, rays, steps, ws)  # (N, C)

    # Screen rows of the events' upper edges (rows grow downwards from the horizon), in ray order
    # low, cap, top per cell, then the fog (at the horizon) and the sky -> (E, C) with E = 3N + 2;
    # far cells and the camera's own front face never show.
    n3, e = 3 * steps, 3 * steps + 2
    rise = eye[:, None].expand(b, w).reshape(1, c) - hgt  # eye above the top of the cell
    t_in_c = t_in.clamp_min(1e-3)
    far = t_in > cam.view_distance
    rf = rise * focal
    ev_y = _buffer(ws, "ev_y", (e, c), device=dev)
    y3 = ev_y[:n3].view(steps, 3, c)
    # Stored as y - y0 with y0 = 0.5 - h / 2 the first row's y (addcdiv: y0 is subtracted after
    # the division is rounded, as a separate subtraction would).
    y0 = 0.5 - h / 2
    neg_y0 = torch.full((), -y0, device=dev)  # a fill, not a copy from the host
    torch.addcdiv(neg_y0, (rise + 1) * focal, t_in_c, out=y3[:, 0])
    torch.addcdiv(neg_y0, rf, t_in_c, out=y3[:, 1])
    torch.addcdiv(neg_y0, rf, t_out.clamp_min(1e-3), out=y3[:, 2])
    y3.masked_fill_(far[:, None, :], float("inf"))
    y3[0, :2].fill_(float("inf"))
    ev_y[n3].fill_(0.0 - y0)
    ev_y[n3 + 1].fill_(-float("inf"))
    # A pixel at row y shows the first event e (in ray order) with y_e <= y: nearer events cover
    # it otherwise. Per event, the first screen row r it can cover (y_r = r + 0.5 - h / 2 >= y_e);
    # per row, the smallest event starting there (a scatter-min); then a running minimum down
    # the rows gives every pixel its event. (Same result as the reference's cummin over events
    # and searchsorted per pixel, which are slow on the CPU.)
    # (The first row itself, ceil(clamp(y_e - y0, 0, h)), is computed per chunk of columns below,
    # where it stays in cache.)

    # Per-event values (E, C): front faces (and fog, sky) K, A, B; top faces ~base and A.
    table_step = 8.0  # fog table entries per cell of distance
    n_tab = int(cam.view_distance * 2 * table_step) + 2
    table = fog_level(torch.arange(n_tab, device=dev) / table_step, cam.fog_density, lit.levels)
    table[-1].fill_(lit.levels - 1)
    # (index_select: a third of the CPU time of advanced indexing)
    slot = (t_in_c * table_step).clamp_(0, n_tab - 1).to(torch.int32)
    level = table.index_select(0, slot.view(-1)).view(slot.shape)
    side_k = (level * stride3).add_((2 - xface.int()) * lit.stride)  # shade 1 or 2
    side_k += (u_in * s).to(torch.int32) & (s - 1)
    k_ev = _buffer(ws, "k_ev", (e, c), torch.int32, dev)
    a_ev = _buffer(ws, "a_ev", (e, c), device=dev)
    b_ev = _buffer(ws, "b_ev", (e, c), device=dev)
    k3, a3, b3 = (x[:n3].view(steps, 3, c) for x in (k_ev, a_ev, b_ev))
    torch.add(((faces >> _FACE_BITS) & 255) * ss, side_k, out=k3[:, 0])
    torch.add(((faces >> (2 * _FACE_BITS)) & 255) * ss, side_k, out=k3[:, 1])
    torch.mul(faces & 255, ss, out=k3[:, 2]).bitwise_not_()
    torch.mul(rise, -s, out=a3[:, 0])
    a3[:, 1] = a3[:, 0]
    a3[:, 2] = rf
    torch.mul(t_in_c, s / focal, out=b3[:, 0])
    b3[:, 1] = b3[:, 0]
    b3[:, 2].fill_(0.0)
    k_ev[n3].fill_((lit.levels - 1) * stride3)  # fog: the fog colour
    a_ev[n3:].fill_(0.0)
    b_ev[n3].fill_(0.0)
    # The sky: clouds turning with the camera, texel row from the screen row.
    heading = torch.atan2(rays[..., 1], rays[..., 0]).reshape(c)
    sky_u = ((heading / (2 * math.pi) * 4 % 1) * s).to(torch.int32) & (s - 1)
    k_ev[n3 + 1] = sky_u + surface_id("clouds") * ss
    b_ev[n3 + 1].fill_(-s / (h / 2))

    # Per pixel, rows-major (H, C), over chunks of columns.
    yc = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5 - h / 2)[:, None]
    inv_y = 1.0 / yc
    rxs, rys = (rays[..., 0] * s).reshape(c), (rays[..., 1] * s).reshape(c)
    pxs = (pos[:, 0:1] * s).expand(b, w).reshape(c)
    pys = (pos[:, 1:2] * s).expand(b, w).reshape(c)
    cols = torch.arange(c, device=dev, dtype=torch.int32)
    events = torch.arange(e, device=dev, dtype=torch.int32)[:, None]
    idx = _buffer(ws, "idx", (b, h, w), torch.int32, dev)
    step = c if max_pixels is None else max(1, max_pixels // (h * w)) * w  # whole envs
    for lo in range(0, c, step):
        hi = min(lo + step, c)
        start = torch.full((h + 1, hi - lo), e, dtype=torch.int32, device=dev)
        first = ev_y[:, lo:hi].clamp(0, h).ceil_().to(torch.int64)  # y_r >= y_e <=> r >= first
        start.scatter_reduce_(0, first, events.expand(e, hi - lo), "amin")
        del first
        ev = start[:h]
        for r in range(1, h):
            torch.minimum(start[r], ev[r - 1], out=ev[r])  # ev[r] aliases start[r], not ev[r-1]
        flat = ev.mul_(c).add_(cols[lo:hi]).view(-1)  # index into the (E, C) arrays
        k = k_ev.view(-1).index_select(0, flat).view(h, hi - lo)
        a = a_ev.view(-1).index_select(0, flat).view(h, hi - lo)
        bb = b_ev.view(-1).index_select(0, flat).view(h, hi - lo)
        del flat
        # Front faces, sky, fog: K + (int(A + B y) & (S - 1)) * S.
        lin = torch.addcmul(a, bb, yc).to(torch.int32).bitwise_and_(s - 1).mul_(s).add_(k)
        # Top faces: t = A / y (as A * (1 / y)), texel (px + t rx, py + t ry), fog level of t.
        t = a.mul_(inv_y)
        uu = torch.addcmul(pxs[lo:hi], t, rxs[lo:hi]).to(torch.int32).bitwise_and_(s - 1)
        top = torch.addcmul(pys[lo:hi], t, rys[lo:hi]).to(torch.int32).bitwise_and_(s - 1)
        top.mul_(s).add_(uu)
        lv = table.index_select(0, t.mul_(table_step).clamp_(0, n_tab - 1).to(torch.int32).view(-1))
        lv = lv.view(h, -1)
        top.add_(lv.mul_(stride3)).add_(k.bitwise_not())
        # Written through a (H, envs, W) view of the (envs, H, W) index: no separate transpose.
        out = idx[lo // w : hi // w].transpose(0, 1)
        torch.where((k < 0).view(out.shape), top.view(out.shape), lin.view(out.shape), out=out)
    return lit.rgb.index_select(0, idx.view(-1)).view(b, h, w, 3)
