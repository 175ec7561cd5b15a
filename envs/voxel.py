"""Batched first-person renderer for voxel heightmap terrain (column-wise "voxel space" DDA).

Every column of the terrain is a stack of blocks from the ground to ``height[y, x]`` (a height
field: no overhangs; trees are log columns whose top unit and top face are leaves). A DDA ray per
screen column walks the cells it crosses, front to back. Projected to the screen, a cell covers
the rows from the upper edge of what the ray sees of it (its top face if the eye is above the
column, else the top of its front face) down to where nearer cells already cover: every pixel
shows the first cell (in ray order) whose upper edge is at or above it, else the fog (below the
horizon) or the sky. Inside its cell a pixel shows the front face where the ray enters the cell
if it lies below the face's upper edge, else the top face; the uppermost unit of a front face
has its own texture (grass edge, leaves). Pixels then get textures (block faces tile per unit),
face shading and exponential fog through one gather into a
:class:`~worldssm.envs.textures.LitAtlas`.

Coordinates as in :mod:`worldssm.envs.raycast`: ``height[b, y, x]``, camera at ``(x, y)``
looking along ``(cos angle, sin angle)``, z up. Outside the map is water at ``outside_height``:
the scene keeps its maps with a one-cell border of that water, and the march clamps cells to the
border, so no lookup is masked.

Cost: the march and all per-cell work run once per screen column (``C = B * W`` columns, laid
out step-major, ``(N, C)``, so every op reads contiguous rows); each cell is one *event* with an
integer key (texture ids, shade, fog level and texel column packed) and two floats. Per pixel, a
scatter-min of the events' first rows and a running minimum down the rows give the event, then
three gathers and about twenty integer/float passes over chunks that stay in cache (the top-face
texel and its fog level only below the horizon, where top faces can show), and the final colour
gather. Large buffers are reused between frames (``workspace``): on the CPU, touching freshly
allocated pages costs more than the arithmetic. CPU notes: comparisons write floats (0/1) and
masks are arithmetic, as bool outputs, ``masked_fill_`` and ``torch.where`` run several times
slower there. The plain version of the same definition is
:mod:`worldssm.envs.voxel_reference`; the tests check that both draw identical frames.

CPU kernel: on the CPU, :func:`render_voxels` draws with one C function
(:mod:`worldssm.envs.voxel_cpu`, source ``voxel_cpu.c``) that
does the same float operations in the same order per pixel (no Python or dispatch per op, no
full-size temporaries; measured on one thread, 512 envs at 64x64: median 24.8k frames/s against
9.2k for the torch ops). It is compiled with the system C compiler on first
use and cached (``~/.cache/worldssm``); without a compiler, or with ``WORLDSSM_VOXEL_COMPILE=0``,
the torch ops above draw instead. ``torch.addcmul`` rounds once (fused multiply-add) in this
torch's vectorised CPU kernels; the kernel is built to round the same way (probed at build time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id

# Packed faces (see pack_faces) and event keys: bits 0..21 hold a lit-atlas index (a front
# face's texel without its row), bits 22..26 the top texture id, bits 27..31 side id - cap id.
_TOP_SHIFT, _DELTA_SHIFT = 22, 27
_BASE_MASK = (1 << _TOP_SHIFT) - 1
SHADES = (1.0, 0.82, 0.66)  # top faces, x faces, y faces
TABLE_STEP = 8.0  # fog table entries per cell of distance
_CELL_COLUMNS = 8192  # CPU: columns per chunk of the per-cell stage (fewer, larger ops beat L2 fit)


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
    """Pack three texture-id tensors (same shape) into one int32 tensor.

    Layout ``cap | top << 22 | (side - cap) << 27``: the renderer turns it into an event key with
    one multiply-add per cell. Needs ``cap < 256``, ``top < 32`` and ``-16 <= side - cap < 16``
    (checked for CPU tensors; the built-in worlds use grass side over dirt, leaves over log).
    """
    top, side, cap = (torch.as_tensor(x).int() for x in (top, side, cap))
    delta = side - cap
    if top.device.type == "cpu" and top.numel():
        bad = (cap < 0) | (cap > 255) | (top < 0) | (top > 31) | (delta < -16) | (delta > 15)
        if bool(bad.any()):
            raise ValueError("pack_faces needs cap < 256, top < 32, -16 <= side - cap < 16")
    return cap + top * (1 << _TOP_SHIFT) + delta * (1 << _DELTA_SHIFT)


@dataclass
class VoxelScene:
    """Terrain of ``B`` worlds on a ``G x G`` grid.

    Attributes:
        height: (B, G, G) float, top of each column of blocks (a view into ``cells``).
        faces: (B, G, G) int32, the column's textures packed by :func:`pack_faces`: its top face,
            its side faces, and the uppermost unit of its side faces (grass edge, leaves). One
            packed word per cell instead of three. A view into ``cells``.
        outside_height: height of the water plane outside the map.
        cells: (B, G + 2, G + 2, 2) int32 storage, per cell the bits of its height (float32) and
            its packed faces side by side, so the renderer fetches both with one 8-byte gather;
            a border of outside water all around. Built from ``height`` and ``faces`` when not
            given. Write the maps through ``height`` / ``faces`` (in place) and the border stays.
    """

    height: torch.Tensor
    faces: torch.Tensor
    outside_height: float = 0.8
    cells: torch.Tensor | None = None

    def __post_init__(self):
        if self.cells is not None:
            return
        b, g = self.height.shape[0], self.height.shape[-1]
        dev = self.height.device
        water = int(pack_faces(*(torch.tensor(surface_id("water")),) * 3))
        self.cells = torch.empty((b, g + 2, g + 2, 2), dtype=torch.int32, device=dev)
        self.padded_height.fill_(self.outside_height)
        self.padded_faces.fill_(water)
        self.padded_height[:, 1:-1, 1:-1] = self.height
        self.padded_faces[:, 1:-1, 1:-1] = self.faces
        self.height = self.padded_height[:, 1:-1, 1:-1]
        self.faces = self.padded_faces[:, 1:-1, 1:-1]

    @property
    def padded_height(self) -> torch.Tensor:
        """(B, G + 2, G + 2) float view of the heights, border included."""
        return self.cells[..., 0].view(torch.float32)

    @property
    def padded_faces(self) -> torch.Tensor:
        """(B, G + 2, G + 2) int32 view of the packed faces, border included."""
        return self.cells[..., 1]

    def top(self) -> torch.Tensor:
        """(B, G, G) long texture of the top faces."""
        return ((self.faces >> _TOP_SHIFT) & 31).long()

    def cap(self) -> torch.Tensor:
        """(B, G, G) long texture of the uppermost unit of the side faces."""
        return (self.faces & 255).long()

    def side(self) -> torch.Tensor:
        """(B, G, G) long texture of the side faces."""
        return self.cap() + (self.faces >> _DELTA_SHIFT).long()

    def slice(self, lo: int, hi: int) -> VoxelScene:
        """The terrain of environments ``lo:hi`` (views, no copies)."""
        return VoxelScene(self.height[lo:hi], self.faces[lo:hi], self.outside_height,
                          self.cells[lo:hi])  # fmt: skip


def _buffer(ws: dict | None, name: str, shape: tuple, dtype=torch.float32, device=None):
    """An uninitialised tensor, reused from the workspace ``ws`` when one of that shape is there.

    Why: on the CPU, freshly allocated large tensors are handed out as new pages by the OS and
    first touching them costs more than the arithmetic done on them; reusing the same buffers
    from frame to frame skips that (and so does writing every temporary of the chunked stages
    into such buffers: mixed sizes of fresh temporaries make the allocator map and unmap pages).
    Only intermediates live here, never returned tensors.
    """
    if ws is None:
        return torch.empty(shape, dtype=dtype, device=device)
    key = (name, tuple(shape))  # chunks of two sizes (full and last) keep one buffer each
    t = ws.get(key)
    if t is None or t.dtype != dtype or t.device != torch.device(device):
        t = ws[key] = torch.empty(shape, dtype=dtype, device=device)
    return t


def _march(pos: torch.Tensor, rays: torch.Tensor, steps: int, ws: dict | None = None):
    """The first ``steps`` cells crossed by every ray, step-major.

    Args:
        pos: (B, 2) camera (x, y). rays: (B, W, 2) ray directions. steps: N, cells to walk.

    Returns:
        tt: (N + 1, C) float distances where the ray enters each cell (C = B * W columns,
        env-major; t_in = tt[:-1], t_out = tt[1:]); xface: (N, C) float, 1 where the ray entered
        the cell through an x face; cx, cy: (N, C) float cell coordinates (exact integers).
    """
    b, w = rays.shape[:2]
    c, dev = b * w, pos.device
    px = pos[:, 0:1].expand(b, w).reshape(c)
    py = pos[:, 1:2].expand(b, w).reshape(c)
    dx, dy = rays[..., 0].reshape(c), rays[..., 1].reshape(c)
    ddx = 1.0 / dx.abs().clamp_min(1e-9)
    ddy = 1.0 / dy.abs().clamp_min(1e-9)
    mx, my = px.floor(), py.floor()  # the camera's cell, as exact float integers
    stx = torch.where(dx < 0, -1.0, 1.0)
    sty = torch.where(dy < 0, -1.0, 1.0)
    sdx = torch.where(dx < 0, (px - mx) * ddx, (mx + 1.0 - px) * ddx)
    sdy = torch.where(dy < 0, (py - my) * ddy, (my + 1.0 - py) * ddy)

    # The loop only updates (C,) state and writes one row of each (N, C) buffer; everything that
    # is a pure function of the cell is computed afterwards.
    cx = _buffer(ws, "cx", (steps, c), device=dev)
    cy = _buffer(ws, "cy", (steps, c), device=dev)
    tt = _buffer(ws, "tt", (steps + 1, c), device=dev)
    xface = _buffer(ws, "xface", (steps, c), device=dev)
    tt[0].fill_(0.0)
    xface[0].fill_(0.0)  # fill_, not a setitem: no host scalar tensor in a CUDA graph
    cx[0], cy[0] = mx, my
    cxs, cys, tts, xfs = cx.unbind(0), cy.unbind(0), tt.unbind(0), xface.unbind(0)
    gy = _buffer(ws, "gy", (c,), device=dev)
    for n in range(steps):
        torch.minimum(sdx, sdy, out=tts[n + 1])
        if n + 1 == steps:
            break
        gx = torch.lt(sdx, sdy, out=xfs[n + 1])  # 1.0 or 0.0
        torch.ge(sdx, sdy, out=gy)  # 1 - gx
        torch.addcmul(cxs[n], stx, gx, out=cxs[n + 1])  # gx, gy are 0 or 1: these add exactly
        torch.addcmul(cys[n], sty, gy, out=cys[n + 1])  # a step or nothing
        sdx.addcmul_(ddx, gx)
        sdy.addcmul_(ddy, gy)
    return tt, xface, cx, cy


def render_voxels(scene: VoxelScene, pos: torch.Tensor, angle: torch.Tensor, eye: torch.Tensor,
                  cam: VoxelCamera, atlas: Atlas, max_pixels: int | None = None,
                  workspace: dict | None = None, out: torch.Tensor | None = None,
                  kernel: bool | None = None) -> torch.Tensor:  # fmt: skip
    """Render a batch of first-person views of voxel terrain.

    Args:
        scene: terrain (see :class:`VoxelScene`). pos: (B, 2) camera (x, y). angle: (B,) heading.
        eye: (B,) camera height. cam: optics. atlas: textures on the same device.
        max_pixels: largest number of pixels shaded in one pass (None: all at once, for GPUs);
            the per pixel stage runs over chunks of whole environments of about this many
            pixels, and the per-cell stage over chunks of about ``_CELL_COLUMNS`` columns.
        workspace: a dict kept between calls (one per world) whose buffers are reused.
        out: optional contiguous (B, H, W, 3) uint8 tensor to draw into (and return).
        kernel: CPU only. None: draw with the compiled C kernel where it is available (see
            :func:`_cpu_kernel`), else with torch ops; False: torch ops; True: the kernel or a
            RuntimeError. Both draw the same frames.

    Returns:
        (B, H, W, 3) uint8 frames.

    Every event (cell, fog, sky) is an int32 key ``K`` and two floats ``A``, ``B``. A pixel at
    screen row ``y`` (from the horizon) computes ``G = floor(A + B y)``: for a cell, the texels
    below the top edge of its front face (``A = -(eye - height) S``, ``B = t_in S / f``). Where
    ``G >= 0`` (and everywhere above the horizon) it shows the front face, texel row ``G mod S``
    of the cap texture in the first unit, of the side texture below; else the top face at
    distance ``t = A / (S y) * (-f)``, texel ``(px + t rx, py + t ry)`` and the fog level of
    ``t``. The fog is a front face of constant colour, the sky one with clouds.
    """
    h, w, s = cam.height, cam.width, atlas.size
    b, dev, ws = pos.shape[0], pos.device, workspace
    c, g = b * w, scene.height.shape[-1]
    lit = lit_atlas(atlas, cam.fog_color, shades=SHADES)
    if lit.rgb.shape[0] > _BASE_MASK + 1 or atlas.count > 32:
        raise ValueError(f"the voxel renderer packs atlas indices in 22 bits and texture ids in 5: "
                         f"{lit.rgb.shape[0]} lit texels, {atlas.count} textures")  # fmt: skip
    if kernel is not False and dev.type == "cpu":
        from worldssm.envs import voxel_cpu  # (it imports this module)

        fn = voxel_cpu.cpu_kernel() if w <= 512 and (out is None or out.is_contiguous()) else None
        frames = None if fn is None else voxel_cpu.render_kernel(
            fn, scene, pos, angle, eye, cam, atlas, lit, out)  # fmt: skip
        if frames is not None:
            return frames
        if kernel:
            raise RuntimeError("the C voxel renderer is not available (WORLDSSM_VOXEL_COMPILE=0, "
                               "no C compiler, a failed build, or wider than 512)")  # fmt: skip
    ls = s.bit_length() - 1
    ss, stride3 = s * s, len(lit.shades) * lit.stride
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg)
    n = int(cam.view_distance * 1.45) + 2
    e = n + 2  # events: the cells, then the fog (below the horizon) and the sky
    tt, xface, cx, cy = _march(pos, rays, n, ws)  # (N + 1, C), (N, C) x 3
    px, py = (pos[:, i : i + 1].expand(b, w).reshape(c) for i in (0, 1))
    dx, dy = rays[..., 0].reshape(c), rays[..., 1].reshape(c)
    eye_c = eye[:, None].expand(b, w).reshape(c)
    # Flat index of each column's env in the padded maps, plus the (1, 1) offset of the border.
    base = torch.arange(b, device=dev, dtype=torch.int32)[:, None] * (g + 2) ** 2 + (g + 3)
    base = base.expand(b, w).reshape(c)
    n_tab = int(cam.view_distance * 2 * TABLE_STEP) + 2
    table = fog_level(torch.arange(n_tab, device=dev) / TABLE_STEP, cam.fog_density, lit.levels)
    table[-1].fill_(lit.levels - 1)
    table3 = table.mul_(stride3)  # fog level -> lit-atlas offset
    table3s = table3 + 2 * lit.stride  # ... plus shade 2 (y faces; x faces subtract 1)
    y0 = 0.5 - h / 2
    neg_y0 = torch.full((), -y0, device=dev)  # a fill, not a copy from the host

    # Per event (E, C): the first screen row it can cover, key K and floats A, B. Cells are done
    # in chunks of columns on the CPU (their temporaries stay in cache), all at once on GPUs.
    first = _buffer(ws, "first", (e, c), torch.int64, dev)
    k_ev = _buffer(ws, "k_ev", (e, c), torch.int32, dev)
    a_ev = _buffer(ws, "a_ev", (e, c), device=dev)
    b_ev = _buffer(ws, "b_ev", (e, c), device=dev)
    cstep = c if max_pixels is None else max(1, _CELL_COLUMNS // w) * w
    for lo in range(0, c, cstep):
        cols = slice(lo, min(lo + cstep, c))
        sh = (n, cols.stop - lo)
        f0, f1, f2 = (_buffer(ws, f"cell_f{i}", sh, device=dev) for i in range(3))
        i0, i1, i2 = (_buffer(ws, f"cell_i{i}", sh, torch.int32, dev) for i in range(3))
        t_in, t_out, xf = tt[:-1, cols], tt[1:, cols], xface[:, cols]
        # The cell in the padded maps ((y + 1) * (G + 2) + x + 1, clamped to the border; exact).
        torch.clamp(cy[:, cols], -1, g, out=f0).mul_(g + 2)
        f0.add_(torch.clamp(cx[:, cols], -1, g, out=f1))
        cell = i0.copy_(f0).add_(base[cols]).view(-1)
        # Height and faces of each cell: one 8-byte gather of the pair, then views.
        pair = _buffer(ws, "cell_pair", sh, torch.int64, dev)
        torch.index_select(scene.cells.view(torch.int64).view(-1), 0, cell, out=pair.view(-1))
        pair = pair.view(torch.int32).view(sh + (2,))
        hgt, faces = pair[..., 0].view(torch.float32), pair[..., 1]
        # Screen rows of the cells' upper edges, stored as y - y0 (y0 = 0.5 - h / 2, the first
        # row's y; addcdiv: y0 is subtracted after the division is rounded): the top of the front
        # face (rise f / t_in) or, seen from above, of the top face (rise f / t_out), whichever is
        # higher; far cells and the camera's own front face never show.
        rise = torch.sub(eye_c[cols], hgt, out=f0)  # eye above the top of the cell
        t_in_c = torch.clamp_min(t_in, 1e-3, out=f1)
        torch.mul(rise, -s, out=a_ev[:n, cols])
        torch.mul(t_in_c, s / focal, out=b_ev[:n, cols])
        rf = rise.mul_(focal)
        y_front = torch.addcdiv(neg_y0, rf, t_in_c, out=f2)
        y_front[0].fill_(float("inf"))
        y_edge = torch.addcdiv(neg_y0, rf, t_out, out=f0)
        torch.minimum(y_edge, y_front, out=y_edge)
        # Far cells start past the last row: + 1e30 (comparisons into floats, then arithmetic, are
        # several times faster on CPUs than bool masks and masked_fill_).
        far = torch.gt(t_in, cam.view_distance, out=f2)  # 1.0 or 0.0
        y_edge.add_(far, alpha=1e30).clamp_(0, h).ceil_()
        first[:n, cols].copy_(i2.copy_(y_edge))  # float -> int32 -> int64 beats float -> int64
        # Front faces: fog at t_in, shade by face direction, texel column from the hit point's
        # coordinate along the face (y for x faces, x for y faces), the cap texture's base.
        slot = i0.copy_(torch.mul(t_in_c, TABLE_STEP, out=f2).clamp_(0, n_tab - 1))
        key = torch.index_select(table3s, 0, slot.view(-1), out=i2.view(-1)).view(sh)
        hx = torch.addcmul(py[cols], t_in, dy[cols], out=f2)
        hit = torch.addcmul(px[cols], t_in, dx[cols], out=f0)
        hit.addcmul_(xf, hx.sub_(hit)).mul_(s).floor_()  # xf is 0 or 1
        key.add_(i0.copy_(hit).bitwise_and_(s - 1))
        key.add_(torch.bitwise_and(faces, 255, out=i0), alpha=ss - 1).add_(faces)  # cap * SS
        torch.sub(key, i0.copy_(xf), alpha=lit.stride, out=k_ev[:n, cols])
    b_ev[0].fill_(0.0)  # the camera's own cell: only its top face
    # The fog (at the horizon, fog colour) and the sky (clouds turning with the camera, texel row
    # from the screen row) cover what no cell does.
    first[n].fill_(math.ceil(min(max(0.0 - y0, 0), h)))
    first[n + 1].fill_(0)
    k_ev[n].fill_((lit.levels - 1) * stride3)
    a_ev[n:].fill_(0.0)
    b_ev[n].fill_(0.0)
    heading = torch.atan2(rays[..., 1], rays[..., 0]).reshape(c)
    sky_u = ((heading / (2 * math.pi) * 4 % 1) * s).to(torch.int32) & (s - 1)
    torch.add(sky_u, surface_id("clouds") * ss, out=k_ev[n + 1])
    b_ev[n + 1].fill_(-s / (h / 2))

    # Per pixel, rows-major (H, C), over chunks of whole environments; rows above the horizon
    # (y <= 0) only show front faces, fog and sky.
    hs = (h + 1) // 2
    yc = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5 - h / 2)[:, None]
    q = torch.full_like(yc[hs:], -focal) / yc[hs:]  # top faces: t S = A q
    pxs, pys = px * s, py * s
    # Per event, its flat index into the (E, C) arrays (a constant, kept in the workspace).
    flat_ev = None if ws is None else ws.get("flat_ev")
    if flat_ev is None or flat_ev.shape != (e, c) or flat_ev.device != torch.device(dev):
        flat_ev = torch.arange(e * c, device=dev, dtype=torch.int32).view(e, c)
        if ws is not None:
            ws["flat_ev"] = flat_ev
    start = _buffer(ws, "start", (h + 1, c), torch.int32, dev).fill_(e * c)
    start.scatter_reduce_(0, first, flat_ev, "amin")
    rows = start.unbind(0)
    for r in range(1, h):
        torch.minimum(rows[r], rows[r - 1], out=rows[r])
    ev = start[:h]  # (H, C): every pixel's event, as a flat index into the (E, C) arrays
    idx = _buffer(ws, "idx", (b, h, w), torch.int32, dev)
    step = c if max_pixels is None else max(1, max_pixels // (h * w)) * w  # whole envs
    for lo in range(0, c, step):
        hi = min(lo + step, c)
        # Written through a (H, envs, W) view of the (envs, H, W) index: no separate transpose.
        idx_t = idx[lo // w : hi // w].transpose(0, 1)
        for r0, r1 in ((0, hs), (hs, h)):
            if r0 == r1:
                continue
            sh = (r1 - r0, hi - lo)
            pf0, pf1 = (_buffer(ws, f"px_f{i}", sh, device=dev) for i in range(2))
            pi0, pi1, pi2, pi3, pi4 = (_buffer(ws, f"px_i{i}", sh, torch.int32, dev)
                                       for i in range(5))  # fmt: skip
            fl = ev[r0:r1, lo:hi]  # (one pass over all columns: contiguous, no copy)
            fl = fl.reshape(-1) if fl.is_contiguous() else pi0.copy_(fl).view(-1)
            k = torch.index_select(k_ev.view(-1), 0, fl, out=pi1.view(-1)).view(sh)
            # (floats gathered as int32: the integer gather is the faster kernel on CPUs)
            torch.index_select(a_ev.view(torch.int32).view(-1), 0, fl,
                               out=pf0.view(torch.int32).view(-1))  # fmt: skip
            torch.index_select(b_ev.view(torch.int32).view(-1), 0, fl,
                               out=pf1.view(torch.int32).view(-1))  # fmt: skip
            gi = pi0.copy_(torch.addcmul(pf0, pf1, yc[r0:r1], out=pf1).floor_())
            # Front faces: texel row gi mod S; the side texture below the first unit (key bits
            # 27..31: side id - cap id).
            lower = torch.bitwise_right_shift(gi, ls, out=pi2).clamp_(0, 1)
            lower.mul_(torch.bitwise_right_shift(k, _DELTA_SHIFT, out=pi3))
            lower.bitwise_left_shift_(2 * ls)
            front = torch.bitwise_and(gi, s - 1, out=pi3).bitwise_left_shift_(ls)
            front.add_(torch.bitwise_and(k, _BASE_MASK, out=pi4))
            dst = idx_t[r0:r1]  # (rows, envs, W), strided
            if r0 == 0:
                torch.add(front.view(dst.shape), lower.view(dst.shape), out=dst)
                continue
            front.add_(lower)
            # Top faces: t S = A q, texel (px S + t S rx, py S + t S ry), fog level of t.
            ts = pf0.mul_(q)
            top = pi2.copy_(torch.addcmul(pys[lo:hi], ts, dy[lo:hi], out=pf1))
            top.bitwise_and_(s - 1).bitwise_left_shift_(ls)
            u = pi4.copy_(torch.addcmul(pxs[lo:hi], ts, dx[lo:hi], out=pf1))
            top.add_(u.bitwise_and_(s - 1))
            lv = pi4.copy_(ts.mul_(TABLE_STEP / s).clamp_(0, n_tab - 1)).view(-1)
            top.add_(torch.index_select(table3, 0, lv, out=pf1.view(torch.int32).view(-1)).view(sh))
            top_tex = torch.bitwise_right_shift(k, _TOP_SHIFT, out=pi4).bitwise_and_(31)
            top.add_(top_tex.bitwise_left_shift_(2 * ls))
            # G < 0: the top face (gi >> 31 is all ones there, else zero).
            top.sub_(front).bitwise_and_(torch.bitwise_right_shift(gi, 31, out=pi4))
            torch.add(front.view(dst.shape), top.view(dst.shape), out=dst)
    if out is None:
        return lit.rgb.index_select(0, idx.view(-1)).view(b, h, w, 3)
    return torch.index_select(lit.rgb, 0, idx.view(-1), out=out.view(-1, 3)).view(b, h, w, 3)
