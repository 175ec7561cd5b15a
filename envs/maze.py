"""``MazeDMLab``: DeepMind-Lab-style random mazes (TECO's DMLab setting), 64x64 by default.

A ``maze_size x maze_size`` maze of one-cell corridors (7x7 as in TECO, so a 15x15 grid), textured
walls and floor chosen per episode, a sky above, an apple to walk to, and a few lamps as
landmarks. Actions are TECO's: 0 look-left, 1 look-right, 2 forward. Reaching the apple gives
reward 1 and a new apple appears elsewhere; episodes are truncated after ``max_episode_steps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from worldssm.envs import layouts
from worldssm.envs.grid_world import GridLayout, GridWorld, GridWorldConfig, pick_goals
from worldssm.envs.raycast import CameraConfig
from worldssm.envs.textures import sprite_id, surface_id

WALLS = ("brick", "stone", "metal", "moss_stone", "wood_planks", "concrete")
FLOORS = ("tiles", "concrete", "parquet", "carpet_gray", "sand", "stone")


@dataclass(frozen=True)
class MazeConfig(GridWorldConfig):
    """Options of :class:`MazeDMLab`."""

    maze_size: int = 7
    extra_openings: float = 0.1  # fraction of inner walls removed, to make loops
    image_size: int = 64
    fov_deg: float = 60.0
    num_lamps: int = 3
    turn_deg: float = 20.0
    move_step: float = 0.3


class MazeDMLab(GridWorld):
    """Batched DMLab-style maze (see the module docstring)."""

    name = "MazeDMLab"
    actions = ("look_left", "look_right", "forward")
    turn_actions = {0: -1, 1: +1}
    uniform_floor = True

    def __init__(self, num_envs: int = 1, config: MazeConfig | None = None, device="cpu"):
        config = config or MazeConfig()
        if config.maze_size < 2:
            raise ValueError(f"maze_size must be >= 2, got {config.maze_size}")
        self.grid_size = 2 * config.maze_size + 1
        self.num_sprites = 1 + config.num_lamps
        self.goal_sprite = sprite_id("apple")
        self.camera = CameraConfig(
            height=config.image_size,
            width=config.image_size,
            fov_deg=config.fov_deg,
            eye_z=0.5,
            wall_height=1.25,
            fog_density=0.08,
            sky=True,
        )
        super().__init__(num_envs, config, device)

    def generate(self, rng: np.random.Generator) -> GridLayout:
        cfg: MazeConfig = self.config
        open_ = layouts.maze(rng, cfg.maze_size, cfg.extra_openings)
        g = open_.shape[0]
        wall_tex = surface_id(WALLS[int(rng.integers(len(WALLS)))])
        floor_tex = surface_id(FLOORS[int(rng.integers(len(FLOORS)))])
        walls = np.where(open_, -1, wall_tex)
        cells = np.argwhere(open_)  # (n, 2) as (y, x)
        start = cells[int(rng.integers(len(cells)))]
        goals = pick_goals(rng, cells, start, cfg.num_goals)
        lamps = cells[rng.choice(len(cells), size=cfg.num_lamps)]
        k = self.num_sprites
        sprite_pos = np.zeros((k, 2), np.float32)
        sprite_tex = np.full(k, -1, np.int64)
        sprite_size = np.ones((k, 2), np.float32)
        sprite_z = np.zeros(k, np.float32)
        sprite_size[0] = (0.35, 0.35)  # the apple floats a little above the floor
        sprite_z[0] = 0.15
        for i, (y, x) in enumerate(lamps, start=1):
            sprite_pos[i] = (x + 0.5, y + 0.5)
            sprite_tex[i] = sprite_id("lamp")
            sprite_size[i] = (0.4, 0.8)
        return GridLayout(
            walls=walls,
            solid=~open_,
            floor=np.full((g, g), floor_tex),
            ceiling=surface_id("plaster"),
            sprite_pos=sprite_pos,
            sprite_tex=sprite_tex,
            sprite_size=sprite_size,
            sprite_z=sprite_z,
            start=(start[1] + 0.5, start[0] + 0.5),
            angle=float(rng.uniform(0, 2 * math.pi)),
            goals=goals,
        )
