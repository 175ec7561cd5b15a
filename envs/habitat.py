"""``IndoorHabitat``: Habitat-style indoor navigation in procedurally generated apartments, 128x128.

A ``size x size`` m apartment (one cell = 1 m, walls 2.6 m, eye at 1.25 m, 90° field of view as in
Habitat's default agent) split into several rooms by binary space partition, two-cell doors, a
floor material and wallpaper per room, a plaster ceiling, and furniture (tables, chairs, sofas,
beds, shelves, plants, lamps) that blocks movement. Actions follow Habitat's discrete set without
STOP: 0 move_forward (0.25 m), 1 turn_left (10°), 2 turn_right (10°). Goals are random reachable
cells (invisible, as in PointNav); :meth:`expert_action` walks the shortest path to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from worldssm.envs import layouts
from worldssm.envs.grid_world import (
    GridLayout,
    GridWorld,
    GridWorldConfig,
    pick_goals,
    room_walls,
)
from worldssm.envs.raycast import CameraConfig
from worldssm.envs.textures import sprite_id, surface_id

FLOORS = ("parquet", "tiles", "carpet_red", "carpet_gray", "wood_planks")
WALLPAPERS = ("wallpaper_blue", "wallpaper_green", "wallpaper_beige", "plaster", "brick")
# name: (width, height) in metres
FURNITURE = {
    "table": (0.9, 0.75),
    "chair": (0.6, 0.9),
    "sofa": (1.0, 0.8),
    "bed": (1.0, 0.6),
    "shelf": (0.9, 1.8),
    "plant": (0.6, 1.1),
    "lamp": (0.5, 1.6),
}


@dataclass(frozen=True)
class HabitatConfig(GridWorldConfig):
    """Options of :class:`IndoorHabitat`."""

    size: int = 14  # interior side, in cells (metres)
    max_rooms: int = 5
    min_room: int = 4
    furniture_per_room: int = 3
    image_size: int = 128
    fov_deg: float = 90.0
    turn_deg: float = 10.0
    move_step: float = 0.25
    radius: float = 0.18


class IndoorHabitat(GridWorld):
    """Batched Habitat-style apartment navigation (see the module docstring)."""

    name = "IndoorHabitat"
    actions = ("move_forward", "turn_left", "turn_right")
    turn_actions = {1: -1, 2: +1}
    show_goal = False

    def __init__(self, num_envs: int = 1, config: HabitatConfig | None = None, device="cpu"):
        config = config or HabitatConfig()
        self.grid_size = config.size + 2
        self.num_sprites = config.max_rooms * config.furniture_per_room
        self.camera = CameraConfig(
            height=config.image_size,
            width=config.image_size,
            fov_deg=config.fov_deg,
            eye_z=1.25,
            wall_height=2.6,
            fog_density=0.03,
            fog_color=(0.55, 0.52, 0.48),
            sky=False,
        )
        super().__init__(num_envs, config, device)

    def generate(self, rng: np.random.Generator) -> GridLayout:
        cfg: HabitatConfig = self.config
        apt = layouts.apartment(rng, cfg.size, cfg.max_rooms, cfg.min_room)
        g = apt.open.shape[0]
        floors = rng.choice(len(FLOORS), size=apt.n_rooms)
        papers = rng.choice(len(WALLPAPERS), size=apt.n_rooms)
        floor = np.full((g, g), surface_id("parquet"), dtype=np.int64)
        for r in range(apt.n_rooms):
            floor[apt.room == r] = surface_id(FLOORS[floors[r]])
        paper_ids = [surface_id(WALLPAPERS[p]) for p in papers]
        walls = room_walls(apt.open, apt.room, paper_ids, surface_id("plaster"))

        solid = ~apt.open
        keep_free = np.zeros_like(solid)
        for y, x in apt.doors:  # keep doors and the cells in front of them free
            keep_free[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
        k = self.num_sprites
        sprite_pos = np.zeros((k, 2), np.float32)
        sprite_tex = np.full(k, -1, np.int64)
        sprite_size = np.ones((k, 2), np.float32)
        names = list(FURNITURE)
        n = 0
        for r in range(apt.n_rooms):
            cells = np.argwhere((apt.room == r) & ~solid & ~keep_free)
            for _ in range(cfg.furniture_per_room):
                if len(cells) == 0 or n >= k:
                    break
                y, x = cells[int(rng.integers(len(cells)))]
                solid[y, x] = True
                free = ~solid
                start_cell = tuple(np.argwhere(free)[0])
                if layouts.reachable(free, start_cell).sum() != free.sum():
                    solid[y, x] = False  # this piece would cut the apartment in two
                    continue
                name = names[int(rng.integers(len(names)))]
                sprite_pos[n] = (x + 0.5, y + 0.5)
                sprite_tex[n] = sprite_id(name)
                sprite_size[n] = FURNITURE[name]
                n += 1
        free_cells = np.argwhere(~solid)
        start = free_cells[int(rng.integers(len(free_cells)))]
        goals = pick_goals(rng, free_cells, start, cfg.num_goals)
        return GridLayout(
            walls=walls,
            solid=solid,
            floor=floor,
            ceiling=surface_id("plaster"),
            sprite_pos=sprite_pos,
            sprite_tex=sprite_tex,
            sprite_size=sprite_size,
            sprite_z=np.zeros(k, np.float32),
            start=(start[1] + 0.5, start[0] + 0.5),
            angle=float(rng.uniform(0, 2 * math.pi)),
            goals=goals,
        )
