"""Procedural textures for the built-in worlds, generated with torch from a fixed seed.

All textures are square, tileable, ``S x S`` RGB (float in [0, 1]). They are generated once on the
CPU from a constant seed (so every run, process and device sees the same pixels) and packed into
a flat *atlas* of shape ``(N * S * S, 3)``: texel ``(tex, v, u)`` sits at row
``tex * S * S + v * S + u``, so a renderer fetches all pixels of a frame with one index gather.

Sprite textures (goal objects, furniture) carry an alpha mask beside the RGB values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

TEXTURE_SIZE = 32
_SEED = 1234

# Names of the surface textures, in atlas order (the index is the texture id).
SURFACES = (
    "brick",
    "stone",
    "metal",
    "wood_planks",
    "wallpaper_blue",
    "wallpaper_green",
    "wallpaper_beige",
    "plaster",
    "tiles",
    "carpet_red",
    "carpet_gray",
    "parquet",
    "grass_top",
    "grass_side",
    "dirt",
    "sand",
    "water",
    "leaves",
    "log",
    "clouds",
    "moss_stone",
    "concrete",
)
# Sprite textures (RGB + alpha), appended after the surfaces in the same atlas.
SPRITES = ("apple", "lamp", "table", "chair", "sofa", "plant", "bed", "shelf", "key", "door")


def surface_id(name: str) -> int:
    """Atlas index of a surface texture (raises ``KeyError`` with the known names)."""
    if name not in SURFACES:
        raise KeyError(f"unknown surface texture {name!r}; known: {', '.join(SURFACES)}")
    return SURFACES.index(name)


def sprite_id(name: str) -> int:
    """Atlas index of a sprite texture (sprites follow the surfaces in the atlas)."""
    if name not in SPRITES:
        raise KeyError(f"unknown sprite texture {name!r}; known: {', '.join(SPRITES)}")
    return len(SURFACES) + SPRITES.index(name)


def _noise(size: int, cells: int, gen: torch.Generator) -> torch.Tensor:
    """Tileable value noise in [0, 1] of shape (size, size) with ``cells`` lattice cells."""
    r = torch.rand(cells, cells, generator=gen)
    r = torch.cat([r, r[:1]], 0)
    r = torch.cat([r, r[:, :1]], 1)
    up = F.interpolate(r[None, None], size=(size + 1, size + 1), mode="bicubic", align_corners=True)
    return up[0, 0, :size, :size].clamp(0, 1)


def _fractal(size: int, gen: torch.Generator, octaves=(2, 4, 8, 16)) -> torch.Tensor:
    out = sum(_noise(size, c, gen) / (i + 1) for i, c in enumerate(octaves))
    out = out - out.min()
    return out / out.max().clamp_min(1e-6)


def _mix(a, b, t: torch.Tensor) -> torch.Tensor:
    a = torch.as_tensor(a, dtype=torch.float32)
    b = torch.as_tensor(b, dtype=torch.float32)
    return a + (b - a) * t[..., None]


def _surface(name: str, s: int, gen: torch.Generator) -> torch.Tensor:
    """One surface texture, (s, s, 3) float in [0, 1]."""
    n = _fractal(s, gen)
    v = torch.arange(s)[:, None].expand(s, s)
    u = torch.arange(s)[None, :].expand(s, s)
    if name == "brick":
        row = v // (s // 4)
        off = (row % 2) * (s // 4)
        mortar = ((v % (s // 4)) == 0) | (((u + off) % (s // 2)) == 0)
        col = _mix((0.55, 0.22, 0.15), (0.75, 0.35, 0.25), n)
        return torch.where(mortar[..., None], torch.tensor([0.8, 0.78, 0.7]), col)
    if name in ("stone", "moss_stone"):
        blocks = _noise(s, 4, gen)
        col = _mix((0.35, 0.35, 0.38), (0.65, 0.65, 0.66), 0.6 * n + 0.4 * blocks)
        if name == "moss_stone":
            moss = (_noise(s, 8, gen) > 0.55).float()
            col = col * (1 - 0.6 * moss[..., None]) + 0.6 * moss[..., None] * torch.tensor(
                [0.2, 0.45, 0.15]
            )
        return col
    if name == "metal":
        rivet = ((u % (s // 2) - s // 4) ** 2 + (v % (s // 2) - s // 4) ** 2) < 3
        col = _mix((0.45, 0.5, 0.55), (0.6, 0.65, 0.7), 0.3 * n + 0.7 * (u.float() / s))
        return torch.where(rivet[..., None], torch.tensor([0.85, 0.85, 0.9]), col)
    if name in ("wood_planks", "parquet", "log"):
        grain = torch.sin(u.float() * 0.9 + 6 * n) * 0.5 + 0.5
        if name == "log":
            grain = torch.sin(u.float() * 1.7 + 3 * n) * 0.5 + 0.5
            return _mix((0.25, 0.16, 0.08), (0.42, 0.28, 0.14), grain)
        seam = (v % (s // 4)) == 0
        if name == "parquet":
            block = ((u // (s // 2)) + (v // (s // 2))) % 2 == 1
            grain = torch.where(block, torch.sin(v.float() * 0.9 + 6 * n) * 0.5 + 0.5, grain)
            seam = (v % (s // 2) == 0) | (u % (s // 2) == 0)
        col = _mix((0.45, 0.28, 0.13), (0.68, 0.47, 0.25), grain)
        return torch.where(seam[..., None], col * 0.6, col)
    if name.startswith("wallpaper"):
        base = {"blue": (0.45, 0.55, 0.75), "green": (0.5, 0.68, 0.5), "beige": (0.85, 0.78, 0.62)}
        c = torch.tensor(base[name.split("_")[1]])
        stripe = ((u // (s // 8)) % 2 == 0).float()[..., None]
        return (c * (0.85 + 0.1 * stripe) * (0.95 + 0.05 * n[..., None])).clamp(0, 1)
    if name in ("plaster", "concrete"):
        c = (0.9, 0.89, 0.86) if name == "plaster" else (0.6, 0.6, 0.58)
        return torch.tensor(c) * (0.9 + 0.1 * n[..., None])
    if name == "tiles":
        grout = (u % (s // 4) == 0) | (v % (s // 4) == 0)
        checker = ((u // (s // 4) + v // (s // 4)) % 2).float()
        col = (
            _mix((0.85, 0.85, 0.82), (0.3, 0.35, 0.45), checker * 0.8)
            * (0.95 + 0.05 * n)[..., None]
        )
        return torch.where(grout[..., None], torch.tensor([0.5, 0.5, 0.5]), col)
    if name.startswith("carpet"):
        c = (0.6, 0.15, 0.15) if name == "carpet_red" else (0.45, 0.45, 0.48)
        fine = torch.rand(s, s, generator=gen)
        return torch.tensor(c) * (0.75 + 0.15 * fine[..., None] + 0.1 * n[..., None])
    if name in ("grass_top", "leaves"):
        fine = torch.rand(s, s, generator=gen)
        if name == "leaves":
            hole = (fine < 0.12).float()[..., None]
            col = _mix((0.1, 0.35, 0.08), (0.2, 0.55, 0.15), n)
            return col * (1 - 0.5 * hole)
        return _mix((0.25, 0.5, 0.15), (0.4, 0.68, 0.22), 0.5 * n + 0.5 * fine)
    if name in ("dirt", "grass_side"):
        fine = torch.rand(s, s, generator=gen)
        col = _mix((0.4, 0.27, 0.15), (0.55, 0.38, 0.22), 0.5 * n + 0.5 * fine)
        if name == "grass_side":
            top = v < (s // 4 + (fine * 3).long())
            col = torch.where(top[..., None], _mix((0.25, 0.5, 0.15), (0.4, 0.68, 0.22), n), col)
        return col
    if name == "sand":
        fine = torch.rand(s, s, generator=gen)
        return _mix((0.82, 0.75, 0.52), (0.92, 0.86, 0.64), 0.4 * n + 0.6 * fine)
    if name == "water":
        wave = torch.sin((u + v).float() * (2 * math.pi / s) * 2 + 4 * n) * 0.5 + 0.5
        return _mix((0.12, 0.3, 0.55), (0.25, 0.45, 0.7), wave)
    if name == "clouds":
        c = _fractal(s, gen, octaves=(2, 4, 8)) ** 2
        return _mix((0.45, 0.65, 0.92), (0.97, 0.97, 1.0), c)
    raise KeyError(name)


def _sprite(name: str, s: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One sprite: RGB (s, s, 3) and alpha (s, s) bool. Row 0 is the top of the sprite."""
    n = _fractal(s, gen)
    y = (torch.arange(s).float()[:, None] + 0.5) / s  # 0 top .. 1 bottom
    x = (torch.arange(s).float()[None, :] + 0.5) / s
    y, x = y.expand(s, s), x.expand(s, s)
    shade = (0.8 + 0.2 * n)[..., None]
    wood = torch.tensor([0.5, 0.32, 0.16]) * shade
    if name == "apple":
        body = ((x - 0.5) ** 2 + (y - 0.6) ** 2) < 0.13
        stem = ((x - 0.5).abs() < 0.04) & (y > 0.12) & (y < 0.3)
        rgb = torch.where(body[..., None], torch.tensor([0.85, 0.1, 0.1]) * shade, wood)
        hi = ((x - 0.4) ** 2 + (y - 0.5) ** 2) < 0.005
        rgb = torch.where(hi[..., None], torch.tensor([1.0, 0.8, 0.8]), rgb)
        return rgb, body | stem
    if name == "lamp":
        shade_part = (y < 0.35) & ((x - 0.5).abs() < 0.15 + 0.3 * y)
        pole = ((x - 0.5).abs() < 0.04) & (y >= 0.35)
        base = (y > 0.92) & ((x - 0.5).abs() < 0.2)
        rgb = torch.where(shade_part[..., None], torch.tensor([1.0, 0.92, 0.6]), torch.zeros(3))
        rgb = torch.where((pole | base)[..., None], torch.tensor([0.25, 0.25, 0.28]), rgb)
        return rgb, shade_part | pole | base
    if name in ("table", "shelf"):
        top = (y < 0.18) & (x > 0.05) & (x < 0.95)
        legs = ((x - 0.12).abs() < 0.05) | ((x - 0.88).abs() < 0.05)
        if name == "shelf":
            boards = ((y * 4) % 1 < 0.15) & (x > 0.08) & (x < 0.92)
            side = (x < 0.1) | (x > 0.9)
            books = ((y * 4) % 1 > 0.15) & (x > 0.1) & (x < 0.9) & (_noise(s, 8, gen) > 0.35)
            colors = torch.stack([n, n.roll(7, 1), 1 - n], -1)
            rgb = torch.where(books[..., None], colors, wood)
            return rgb, boards | side | books
        return wood, top | (legs & (y >= 0.18))
    if name == "chair":
        back = (y < 0.5) & ((x - 0.3).abs() < 0.06) | ((y < 0.08) & (x > 0.24) & (x < 0.76))
        back = back | ((y < 0.5) & ((x - 0.7).abs() < 0.06))
        seat = ((y - 0.55).abs() < 0.05) & (x > 0.22) & (x < 0.78)
        legs = (y > 0.55) & (((x - 0.27).abs() < 0.04) | ((x - 0.73).abs() < 0.04))
        return wood * 0.9, back | seat | legs
    if name == "sofa":
        body = (y > 0.35) & (y < 0.9) & (x > 0.02) & (x < 0.98)
        arms = (y > 0.25) & (y < 0.9) & ((x < 0.14) | (x > 0.86))
        feet = (y >= 0.9) & (((x - 0.1).abs() < 0.04) | ((x - 0.9).abs() < 0.04))
        rgb = torch.tensor([0.25, 0.35, 0.6]) * shade
        rgb = torch.where(((y - 0.6).abs() < 0.02)[..., None], rgb * 0.7, rgb)
        return rgb, body | arms | feet
    if name == "plant":
        pot = (y > 0.7) & ((x - 0.5).abs() < 0.22 - 0.1 * (y - 0.7))
        leaves = ((x - 0.5) ** 2 / 0.12 + (y - 0.4) ** 2 / 0.1) < 1.0
        leaves = leaves & (_noise(s, 8, gen) > 0.3)
        rgb = torch.where(pot[..., None], torch.tensor([0.6, 0.3, 0.2]), torch.zeros(3))
        rgb = torch.where(leaves[..., None], torch.tensor([0.15, 0.5, 0.15]) * shade * 1.1, rgb)
        return rgb, pot | leaves
    if name == "bed":
        frame = (y > 0.45) & (x > 0.02) & (x < 0.98)
        head = (x < 0.12) & (y > 0.2)
        sheet = (y > 0.45) & (y < 0.7) & (x > 0.12)
        pillow = (y > 0.38) & (y < 0.5) & (x > 0.14) & (x < 0.35)
        rgb = torch.where(sheet[..., None], torch.tensor([0.9, 0.9, 0.95]) * shade, wood)
        rgb = torch.where(pillow[..., None], torch.tensor([0.98, 0.98, 1.0]), rgb)
        return rgb, frame | head | pillow
    if name == "key":
        ring = ((x - 0.5) ** 2 + (y - 0.25) ** 2).sqrt()
        ring = (ring < 0.18) & (ring > 0.09)
        shaft = ((x - 0.5).abs() < 0.05) & (y > 0.4) & (y < 0.95)
        teeth = (x > 0.5) & (x < 0.68) & (((y - 0.8).abs() < 0.04) | ((y - 0.9).abs() < 0.04))
        return torch.tensor([0.95, 0.8, 0.2]) * shade, ring | shaft | teeth
    if name == "door":
        panel = ((x * 2) % 1 > 0.15) & ((x * 2) % 1 < 0.85) & ((y * 3) % 1 > 0.15)
        rgb = torch.where(panel[..., None], wood * 1.2, wood * 0.8)
        knob = ((x - 0.85) ** 2 + (y - 0.55) ** 2) < 0.002
        rgb = torch.where(knob[..., None], torch.tensor([0.9, 0.8, 0.3]), rgb)
        return rgb.clamp(0, 1), torch.ones(s, s, dtype=torch.bool)
    raise KeyError(name)


@dataclass(frozen=True)
class Atlas:
    """All textures packed for index gathers.

    Attributes:
        rgb: (N * S * S, 3) float32 in [0, 1].
        alpha: (N * S * S,) bool; True for surfaces everywhere, sprite masks for sprites.
        size: S, the side of each texture in texels.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor
    size: int

    def to(self, device: torch.device | str) -> Atlas:
        return Atlas(self.rgb.to(device), self.alpha.to(device), self.size)

    @property
    def count(self) -> int:
        return self.rgb.shape[0] // (self.size * self.size)

    def image(self, tex: int) -> torch.Tensor:
        """One texture as (S, S, 3) float, for inspection."""
        s = self.size
        return self.rgb[tex * s * s : (tex + 1) * s * s].reshape(s, s, 3)


_CACHE: dict[tuple[int, str], Atlas] = {}


def build_atlas(size: int = TEXTURE_SIZE, device: torch.device | str = "cpu") -> Atlas:
    """The atlas of all :data:`SURFACES` then all :data:`SPRITES` (cached per size and device)."""
    key = (size, str(torch.device(device)))
    if key not in _CACHE:
        if size < 8 or size & (size - 1):
            raise ValueError(f"texture size must be a power of two >= 8, got {size}")
        gen = torch.Generator().manual_seed(_SEED)
        rgbs, alphas = [], []
        for name in SURFACES:
            rgbs.append(_surface(name, size, gen).clamp(0, 1))
            alphas.append(torch.ones(size, size, dtype=torch.bool))
        for name in SPRITES:
            rgb, alpha = _sprite(name, size, gen)
            rgbs.append(rgb.clamp(0, 1))
            alphas.append(alpha)
        rgb = torch.stack(rgbs).reshape(-1, 3).float().contiguous()
        alpha = torch.stack(alphas).reshape(-1).contiguous()
        _CACHE[key] = Atlas(rgb, alpha, size).to(device)
    return _CACHE[key]


@dataclass(frozen=True)
class LitAtlas:
    """The atlas pre-multiplied by every (fog level, shade) pair, as uint8 RGB.

    Texel ``i`` of the plain atlas seen at fog level ``l`` with shade ``k`` sits at row
    ``(l * len(shades) + k) * stride + i`` of ``rgb``, where ``stride = N * S * S``. A fog level
    ``l`` blends ``l / (levels - 1)`` of the fog colour in, so a renderer computes one index per
    pixel and gathers the final colour directly (no per-pixel float colour math).

    Attributes:
        rgb: (levels * len(shades) * stride, 3) uint8.
        levels: number of fog levels. shades: brightness factors. stride: N * S * S.
    """

    rgb: torch.Tensor
    levels: int
    shades: tuple[float, ...]
    stride: int


_LIT_CACHE: dict[tuple, LitAtlas] = {}


def lit_atlas(atlas: Atlas, fog_color, shades=(1.0, 0.78), levels: int = 32) -> LitAtlas:
    """Build (and cache) the :class:`LitAtlas` of ``atlas`` for one fog colour and shade set."""
    key = (id(atlas), tuple(fog_color), tuple(shades), levels)
    if key not in _LIT_CACHE:
        dev = atlas.rgb.device
        fog = torch.tensor(fog_color, dtype=torch.float32, device=dev)
        f = torch.linspace(0, 1, levels, device=dev)[:, None, None, None]  # fog fraction
        k = torch.tensor(shades, dtype=torch.float32, device=dev)[None, :, None, None]
        rgb = atlas.rgb[None, None] * k * (1 - f) + fog * f  # (L, K, stride, 3)
        rgb = (rgb * 255 + 0.5).clamp(0, 255).to(torch.uint8).reshape(-1, 3).contiguous()
        _LIT_CACHE[key] = LitAtlas(rgb, levels, tuple(shades), atlas.rgb.shape[0])
    return _LIT_CACHE[key]


def fog_level(depth: torch.Tensor, density: float, levels: int) -> torch.Tensor:
    """Fog level (int32, same shape as ``depth``) of surfaces at ``depth``: exponential fog."""
    return ((1 - torch.exp(-density * depth)) * (levels - 1) + 0.5).to(torch.int32)
