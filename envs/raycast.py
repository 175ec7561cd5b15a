"""Batched first-person raycaster for grid worlds (walls, textured floor/ceiling or sky, sprites).

Wolfenstein-style: one DDA ray per screen column finds the nearest wall; every pixel then gets
its texel from one gather into the texture :class:`~worldssm.envs.textures.Atlas`. Floors and
ceilings are cast per pixel (perspective-correct), billboards (goal objects, furniture) are depth
tested per column, and distance fog blends every surface into the fog colour. Everything is plain
tensor ops over a batch of ``B`` cameras, so the same code runs on CPU and CUDA. On the CPU,
:func:`render_grid` draws with a compiled C kernel (:mod:`worldssm.envs.raycast_cpu`) where one
builds: the same float operations in the same order, so the same frames.

Coordinates: ``walls[b, y, x]``; a camera at ``pos = (x, y)`` (cell units) looks along
``(cos angle, sin angle)``; the screen's right is ``(-sin angle, cos angle)`` (so a positive
turn is a right turn in the top-down map). Walls are ``CameraConfig.wall_height`` cells high.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id


@dataclass(frozen=True)
class CameraConfig:
    """Image size and optics of a first-person camera."""

    height: int = 64
    width: int = 64
    fov_deg: float = 60.0
    eye_z: float = 0.5  # eye height above the floor, in cells
    wall_height: float = 1.0  # in cells; textures repeat once per cell vertically
    fog_density: float = 0.12  # per cell; 0 disables fog
    fog_color: tuple[float, float, float] = (0.6, 0.65, 0.72)
    sky: bool = True  # True: sky above walls; False: textured ceiling

    def __post_init__(self):
        if self.height < 8 or self.width < 8:
            raise ValueError(f"image must be at least 8x8, got {self.height}x{self.width}")
        if not 10.0 <= self.fov_deg <= 150.0:
            raise ValueError(f"fov_deg must be in [10, 150], got {self.fov_deg}")
        if not 0.0 < self.eye_z < self.wall_height:
            raise ValueError(f"eye_z must be in (0, wall_height), got {self.eye_z}")


@dataclass
class GridScene:
    """What the raycaster draws for a batch of ``B`` worlds on a ``G x G`` grid.

    Attributes:
        walls: (B, G, G) long, wall texture id per cell, -1 where the cell is open.
        floor: (B, G, G) long, floor texture id per cell.
        ceiling: (B,) long, ceiling texture id (used when the camera has ``sky=False``).
        sprite_pos: (B, K, 2) float, sprite centres (x, y); K may be 0.
        sprite_tex: (B, K) long, sprite texture id, -1 for an absent sprite.
        sprite_size: (B, K, 2) float, (width, height) in cells / wall heights.
        sprite_z: (B, K) float, height of the sprite's bottom above the floor.
    """

    walls: torch.Tensor
    floor: torch.Tensor
    ceiling: torch.Tensor
    sprite_pos: torch.Tensor
    sprite_tex: torch.Tensor
    sprite_size: torch.Tensor
    sprite_z: torch.Tensor

    def slice(self, lo: int, hi: int) -> GridScene:
        """The scene of environments ``lo:hi`` (views, no copies)."""
        return GridScene(**{k: v[lo:hi] for k, v in self.__dict__.items()})


def cast_columns(walls: torch.Tensor, pos: torch.Tensor, rays: torch.Tensor, max_steps: int,
                 static: bool = False):  # fmt: skip
    """DDA through the wall grid for every ray.

    Args:
        walls: (B, G, G) long, -1 open.
        pos: (B, 2) float camera position.
        rays: (B, W, 2) float ray directions (forward component 1, so distances are
            perpendicular to the camera plane and free of fish-eye).
        max_steps: upper bound on cells crossed (2 G suffices).
        static: True marches every ray for all ``max_steps`` steps (fixed shapes, no host reads:
            rays that hit a wall stand still); False drops the rays that hit every other step,
            which is cheaper where counting them is free (CPU). Both give the same result.

    Returns:
        dist (B, W) perpendicular distance, tex (B, W) wall texture id, u (B, W) in [0, 1)
        horizontal texture coordinate, side (B, W) bool, True where an x-facing wall was hit.
    """
    b, g = walls.shape[0], walls.shape[-1]
    dev = pos.device
    flat = walls.reshape(-1).int()
    px, py = pos[:, 0:1], pos[:, 1:2]
    dx, dy = rays[..., 0], rays[..., 1]
    shape = dx.shape
    dd = torch.stack([dx, dy]).abs_().clamp_min_(1e-9).reciprocal_()  # (2, B, W): ddx, ddy
    fx, fy = px.floor(), py.floor()
    neg = torch.stack([dx, dy]) < 0
    stx = torch.where(neg[0], -1, 1).int()
    sty = torch.where(neg[1], -g, g).int()  # steps in the flat cell index
    sdx = torch.where(neg[0], (px - fx) * dd[0], (fx + 1.0 - px) * dd[0])
    sdy = torch.where(neg[1], (py - fy) * dd[1], (fy + 1.0 - py) * dd[1])
    base = torch.arange(b, device=dev, dtype=torch.int32)[:, None] * (g * g)
    lin = ((fy * g + fx).int() + base).expand(shape)
    top = flat.numel() - 1
    # Marching state, one entry per ray (column of "sd"/"dd") still marching; "rows" maps
    # entries to rays. A ray stops moving when it enters a wall cell: "mov" is False from then
    # on, so its state keeps the values of its hit. (sdx, sdy) live in one (2, n) tensor so one
    # op updates both. tex is the cell's texture while the ray moves (-1 in open cells).
    n = lin.numel()
    st = {
        "sd": torch.stack([sdx, sdy]).reshape(2, n),
        "dd": dd.reshape(2, n),
        "lin": lin.reshape(n).contiguous(),
        "stx": stx.expand(shape).reshape(n),
        "sty": sty.expand(shape).reshape(n),
        "side": torch.zeros(n, dtype=torch.bool, device=dev),
        "tex": torch.full((n,), -1, dtype=torch.int32, device=dev),
        "mov": torch.ones(n, dtype=torch.bool, device=dev),
    }
    rows = None
    out = {k: torch.empty_like(st[k]) for k in ("sd", "side", "tex")}
    for i in range(max_steps):
        sd, mov = st["sd"], st["mov"]
        go_x = sd[0] < sd[1]
        g2 = torch.stack([go_x & mov, go_x < mov])  # x step, y step (mov and not go_x)
        sd += st["dd"] * g2  # adds ddx / ddy or exactly 0
        st["lin"] += torch.where(go_x, st["stx"], st["sty"]) * mov
        st["side"] = torch.where(mov, go_x, st["side"])
        cell = flat.index_select(0, st["lin"].clamp_(0, top))
        st["tex"] = torch.where(mov, cell, st["tex"])
        torch.lt(st["tex"], 0, out=mov)
        if static or i % 2 == 0:
            continue
        left = int(mov.sum())
        if left == 0:
            break
        if left < mov.numel() // 2:  # compact
            done, keep = (~mov).nonzero().squeeze(1), mov.nonzero().squeeze(1)
            rows = torch.arange(n, device=dev) if rows is None else rows
            for k in out:
                out[k][..., rows[done]] = st[k][..., done]
            st = {k: v[..., keep] for k, v in st.items()}
            rows = rows[keep]
    if rows is None:
        out = {k: st[k] for k in out}
    else:
        for k in out:
            out[k][..., rows] = st[k]
    sd, side, tex = out["sd"].view(2, *shape), out["side"].view(shape), out["tex"].view(shape)
    dist = torch.where(side, sd[0] - dd[0], sd[1] - dd[1]).clamp_min(1e-4)
    wall_pos = torch.where(side, py + dist * dy, px + dist * dx)
    u = wall_pos - wall_pos.floor()
    u = torch.where((side & neg[0]) | (~side & (dy > 0)), 1.0 - u, u)
    return dist, tex.clamp_min(0).long(), u.clamp(0, 0.9999), side


def camera_rays(angle: torch.Tensor, width: int, fov_deg: float) -> torch.Tensor:
    """(B, W, 2) ray directions with unit forward component for each screen column."""
    half = math.tan(math.radians(fov_deg) / 2)
    camx = (torch.arange(width, device=angle.device, dtype=torch.float32) + 0.5) * 2 / width - 1
    fwd = torch.stack([angle.cos(), angle.sin()], -1)[:, None, :]
    right = torch.stack([-angle.sin(), angle.cos()], -1)[:, None, :]
    return fwd + right * (camx * half)[None, :, None]


def sprite_params(scene: GridScene, pos: torch.Tensor, angle: torch.Tensor, width: int, focal):
    """Each sprite's depth, half width (in pixels) and left edge (screen column), each (B, K)."""
    rel = scene.sprite_pos - pos[:, None, :]  # (B, K, 2)
    cos, sin = angle.cos()[:, None], angle.sin()[:, None]
    depth = rel[..., 0] * cos + rel[..., 1] * sin  # (B, K)
    lateral = -rel[..., 0] * sin + rel[..., 1] * cos
    inv = focal / depth.clamp_min(1e-3)
    half_w = scene.sprite_size[..., 0] * inv / 2
    left = width / 2 + lateral * inv - half_w
    return depth, half_w, left


def sprite_columns(scene: GridScene, pos: torch.Tensor, angle: torch.Tensor, wall_dist, focal):
    """The nearest visible sprite in every screen column.

    Returns:
        depth, u in [0, 1), tex, height, bottom z — each (B, W) — and visible (B, W) bool.
    """
    b, w = wall_dist.shape
    depth, half_w, left = sprite_params(scene, pos, angle, w, focal)
    cols = torch.arange(w, device=pos.device, dtype=torch.float32)[None, None, :] + 0.5
    u = (cols - left[..., None]) / (2 * half_w[..., None]).clamp_min(1e-6)  # (B, K, W)
    ok = (u >= 0) & (u < 1) & (depth[..., None] > 0.15) & (scene.sprite_tex[..., None] >= 0)
    ok = ok & (depth[..., None] < wall_dist[:, None, :])
    masked = torch.where(ok, depth[..., None].expand_as(u), torch.full_like(u, float("inf")))
    best, k = masked.min(1)  # (B, W)
    u = u.gather(1, k[:, None]).squeeze(1)
    tex = scene.sprite_tex.gather(1, k)
    height = scene.sprite_size[..., 1].gather(1, k)
    z0 = scene.sprite_z.gather(1, k)
    return best, u, tex, height, z0, torch.isfinite(best)


def render_grid(scene: GridScene, pos: torch.Tensor, angle: torch.Tensor, cam: CameraConfig,
                atlas: Atlas, static: bool = False, floor_uniform: bool | None = None,
                kernel: bool | None = None) -> torch.Tensor:  # fmt: skip
    """Render a batch of first-person views.

    Args:
        scene: the worlds (see :class:`GridScene`), all tensors on one device.
        pos: (B, 2) camera positions; angle: (B,) headings in radians.
        cam: image size and optics. atlas: textures on the same device.
        static: only fixed-shape ops that never read device values on the host (see
            :attr:`~worldssm.envs.world.World.static_shapes`); same frames either way.
        floor_uniform: True promises that every world has one floor texture (the one at cell
            (0, 0)), which skips a per-pixel gather; None checks the scene (a host read, so
            with ``static`` it means False).
        kernel: CPU only, not with ``static``. None: draw with the compiled C kernel where it is
            available (:mod:`worldssm.envs.raycast_cpu`), else with torch ops; False: torch ops;
            True: the kernel or a RuntimeError. Both draw the same frames.

    Returns:
        (B, H, W, 3) uint8 frames.

    Per pixel only integer index arithmetic and one gather run: fog depends on the column (walls)
    or the row (floor, ceiling), so it is folded into the index of a :class:`LitAtlas`.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, g, dev = pos.shape[0], scene.walls.shape[-1], pos.device
    if floor_uniform is None:
        floor_uniform = not static and bool((scene.floor == scene.floor[:, :1, :1]).all())
    if kernel is not False and dev.type == "cpu" and not static:
        from worldssm.envs import raycast_cpu  # (it imports this module)

        fn = raycast_cpu.cpu_kernel()
        args = (scene, pos, angle, cam, atlas, floor_uniform)
        frames = None if fn is None else raycast_cpu.render_kernel(fn, *args)
        if frames is not None:
            return frames
        if kernel:
            raise RuntimeError(
                "the C raycaster is not available (WORLDSSM_RAYCAST_COMPILE=0, no C compiler, a "
                "failed build, wider than 1024, or not float32)"
            )
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.78))
    levels, nshade, stride = lit.levels, len(lit.shades), lit.stride
    lg = s.bit_length() - 1
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    dist, wtex, wu, side = cast_columns(scene.walls, pos, rays, 2 * g + 2, static)

    # Per column: texel v at screen row y is  y * slope + top; the base index carries the wall
    # texture, its u column, the fog level and the shade.
    wlevel = fog_level(dist, cam.fog_density, levels)
    wbase = (wlevel * nshade + (~side).int()) * stride + wtex.int() * (s * s) + (wu * s).int()
    wbase = wbase[:, None, :]  # (B, 1, W)
    wslope = (dist * (s / focal))[:, None, :]
    wtop = torch.full_like(wslope, (cam.wall_height - cam.eye_z) * s)
    yc = torch.arange(h, device=dev, dtype=torch.float32) + 0.5 - h / 2
    lower = yc > 0
    n_up = (h + 1) // 2  # rows with yc <= 0 (yc is a half-integer, exact in float32)
    t_row = torch.where(lower, cam.eye_z * focal / yc, (cam.wall_height - cam.eye_z) * focal / -yc)
    plevel = fog_level(t_row, cam.fog_density, levels) * (nshade * stride)  # (H,)
    px, py = (pos[:, 0] * s).view(b, 1, 1), (pos[:, 1] * s).view(b, 1, 1)
    rx, ry = (rays[..., 0] * s)[:, None, :], (rays[..., 1] * s)[:, None, :]

    idx = torch.empty(b, h, w, dtype=torch.int32, device=dev)
    for lo, hi in ((0, n_up), (n_up, h)):
        if hi == lo:
            continue
        yr, tr = yc[lo:hi].view(1, -1, 1), t_row[lo:hi].view(1, -1, 1)
        wall = tr >= dist[:, None, :]  # (B, h', W)
        widx = torch.addcmul(wtop, yr, wslope).to(torch.int32).bitwise_and_(s - 1)
        widx = widx.mul_(s).add_(wbase)
        is_floor = hi == h and lo == n_up
        if not is_floor and cam.sky:
            heading = torch.atan2(rays[..., 1], rays[..., 0])[:, None, :]  # (B, 1, W)
            su = ((heading / (2 * math.pi) * 4 % 1) * s).int().clamp(0, s - 1)
            sv = ((-yr / (h / 2)).clamp(0, 0.999) * s).int()
            plane = su + (sv * s + surface_id("clouds") * s * s)
        else:
            xi = torch.addcmul(px, rx, tr).to(torch.int32)
            yi = torch.addcmul(py, ry, tr).to(torch.int32)
            plane = (yi & (s - 1)).bitwise_left_shift_(lg).bitwise_or_(xi & (s - 1))
            if not is_floor:
                plane += (scene.ceiling.int() * (s * s)).view(b, 1, 1)
            elif floor_uniform:
                plane += (scene.floor[:, 0, 0].int() * (s * s)).view(b, 1, 1)
            else:
                cell = (yi >> lg).mul_(g).add_(xi >> lg).clamp_(0, g * g - 1).flatten(1)
                ftex = scene.floor.reshape(b, -1).int().gather(1, cell.long()).view_as(xi)
                plane += ftex * (s * s)
            plane += plevel[lo:hi].view(1, -1, 1)
        torch.where(wall, widx, plane, out=idx[:, lo:hi])

    if scene.sprite_tex.shape[1] > 0:
        _draw_sprites(idx, scene, pos, angle, cam, atlas, dist, focal, yc, static)
    return lit.rgb.index_select(0, idx.reshape(-1)).view(b, h, w, 3)


def _draw_sprites(idx, scene, pos, angle, cam, atlas, dist, focal, yc, static=False) -> None:
    """Overwrite, in place, the (B, H, W) indices of the pixels where a sprite is visible.

    ``static`` works on every column (fixed shapes); otherwise only on the visible ones.
    """
    s = atlas.size
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.78))
    sd, su, stex, sh, sz, vis = sprite_columns(scene, pos, angle, dist, focal)  # (B, W)
    if static:
        # Columns without a sprite get texel row -1 on every row (drawn nowhere) and finite,
        # in-range stand-ins for the values their pixels compute.
        sd, su = torch.where(vis, sd, 1.0), torch.where(vis, su, 0.0)
        slope = torch.where(vis, sd / focal / sh * s, 0.0).unsqueeze(1)  # (B, 1, W)
        off = torch.where(vis, (sz + sh - cam.eye_z) / sh * s, -1.0).unsqueeze(1)
        yv = yc.view(1, -1, 1)
    else:
        cols = vis.reshape(-1).nonzero().squeeze(1)  # flat (b * W + w) ids of visible columns
        if cols.numel() == 0:
            return
        sd, su, stex = sd.reshape(-1)[cols], su.reshape(-1)[cols], stex.reshape(-1)[cols]
        sh, sz = sh.reshape(-1)[cols], sz.reshape(-1)[cols]
        slope = (sd / focal / sh * s)[:, None]  # (n, 1)
        off = ((sz + sh - cam.eye_z) / sh * s)[:, None]
        yv = yc[None, :]
        bi, wi = cols // idx.shape[-1], cols % idx.shape[-1]
        target = idx[bi, :, wi]  # (n, H)
    # Texel row of the sprite at screen row y: v = (z0 + height - z(y)) / height * S.
    sv = torch.addcmul(off, yv, slope)
    inside = (sv >= 0) & (sv < s)
    sidx = sv.clamp_(0, s - 1).to(torch.int32).mul_(s)
    col = (stex.clamp_min(0) * (s * s) + (su.clamp(0, 0.999) * s).long()).int()
    level = fog_level(sd, cam.fog_density, lit.levels) * (len(lit.shades) * lit.stride)
    if static:
        sidx += col.unsqueeze(1)
        draw = inside & atlas.alpha[sidx]
        torch.where(draw, sidx + level.unsqueeze(1), idx, out=idx)
    else:
        sidx += col[:, None]
        draw = inside & atlas.alpha[sidx]
        idx[bi, :, wi] = torch.where(draw, sidx + level[:, None], target)
