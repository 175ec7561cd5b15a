"""S4WM-style memory tasks built on the grid worlds (64x64 first-person views).

- :class:`FourRooms3D` — four rooms, each with its own floor, walls and landmarks, joined by one
  door per inner wall; an apple in a random room gives reward 1 and ends the episode. Revisiting
  a room tests whether a world model remembers what it looked like.
- :class:`DistractingMemory` — a cue room (its floor colour is the cue), a hallway of
  configurable length and width full of random distractor objects, and two end rooms, only one of
  which has the cue's floor. Entering the far end of the matching room gives +1, the other -1;
  either ends the episode. The cue is out of sight at the decision, so solving it needs memory.
- :class:`MultiDoorsKeys` — ``num_keys`` keys lie in the first room; a corridor of rooms
  follows, separated by ``num_keys`` locked doors. Walking into a door while holding a key opens
  it (+1), picking up a key gives +1, reaching the apple behind the last door gives +1 and ends
  the episode. Which keys were taken and which doors opened is only in the history.

Each scripted expert walks the shortest path through its task's sub-goals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from worldssm.envs.grid_world import GridLayout, GridWorld, GridWorldConfig, pick_goals, room_walls
from worldssm.envs.raycast import CameraConfig
from worldssm.envs.textures import sprite_id, surface_id

ROOM_FLOORS = ("carpet_red", "tiles", "parquet", "grass_top", "sand", "carpet_gray")
ROOM_WALLS = ("brick", "wallpaper_blue", "wallpaper_green", "stone", "wallpaper_beige", "metal")
DISTRACTORS = ("lamp", "plant", "chair", "table", "shelf")


def _camera(size: int) -> CameraConfig:
    return CameraConfig(height=size, width=size, fov_deg=60.0, eye_z=0.5, wall_height=1.25,
                        fog_density=0.06, sky=False)  # fmt: skip


def _sprites(k: int):
    return (np.zeros((k, 2), np.float32), np.full(k, -1, np.int64),
            np.ones((k, 2), np.float32), np.zeros(k, np.float32))  # fmt: skip


# -- Four Rooms ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FourRoomsConfig(GridWorldConfig):
    """Options of :class:`FourRooms3D`."""

    room_size: int = 5
    image_size: int = 64
    landmarks_per_room: int = 2
    terminate_on_goal: bool = True
    max_episode_steps: int = 500


class FourRooms3D(GridWorld):
    """Four distinctly decorated rooms; find the apple (see the module docstring)."""

    name = "FourRooms3D"
    actions = ("turn_left", "turn_right", "forward")
    turn_actions = {0: -1, 1: +1}

    def __init__(self, num_envs: int = 1, config: FourRoomsConfig | None = None, device="cpu"):
        config = config or FourRoomsConfig()
        if config.room_size < 2:
            raise ValueError(f"room_size must be >= 2, got {config.room_size}")
        self.grid_size = 2 * config.room_size + 3
        self.num_sprites = 1 + 4 * config.landmarks_per_room
        self.goal_sprite = sprite_id("apple")
        self.camera = _camera(config.image_size)
        super().__init__(num_envs, config, device)

    def generate(self, rng: np.random.Generator) -> GridLayout:
        cfg: FourRoomsConfig = self.config
        r, g = cfg.room_size, self.grid_size
        m = r + 1  # index of the inner walls
        open_ = np.zeros((g, g), bool)
        open_[1:-1, 1:-1] = True
        open_[m, :] = open_[:, m] = False
        open_[m, int(rng.integers(1, m))] = open_[m, int(rng.integers(m + 1, g - 1))] = True
        open_[int(rng.integers(1, m)), m] = open_[int(rng.integers(m + 1, g - 1)), m] = True
        room = np.full((g, g), -1)
        lo, hi = slice(1, m), slice(m + 1, g - 1)
        quads = [(lo, lo), (lo, hi), (hi, lo), (hi, hi)]
        floors = rng.permutation(len(ROOM_FLOORS))[:4]
        papers = rng.permutation(len(ROOM_WALLS))[:4]
        floor = np.full((g, g), surface_id("concrete"))
        for k, (ys, xs) in enumerate(quads):
            room[ys, xs] = k
            floor[ys, xs] = surface_id(ROOM_FLOORS[floors[k]])
        walls = room_walls(open_, room, [surface_id(ROOM_WALLS[p]) for p in papers], 0)
        pos, tex, size, z = _sprites(self.num_sprites)
        size[0], z[0] = (0.35, 0.35), 0.15
        i = 1
        for k in range(4):
            cells = np.argwhere(room == k)
            for _ in range(cfg.landmarks_per_room):
                y, x = cells[int(rng.integers(len(cells)))]
                name = DISTRACTORS[(k + i) % len(DISTRACTORS)]
                pos[i], tex[i], size[i] = (x + 0.5, y + 0.5), sprite_id(name), (0.5, 0.7)
                i += 1
        cells = np.argwhere(open_)
        start = cells[int(rng.integers(len(cells)))]
        return GridLayout(walls, ~open_, floor, surface_id("plaster"), pos, tex, size, z,
                          (start[1] + 0.5, start[0] + 0.5), float(rng.uniform(0, 2 * math.pi)),
                          pick_goals(rng, cells, start, cfg.num_goals))  # fmt: skip


# -- Distracting Memory ----------------------------------------------------------------------
@dataclass(frozen=True)
class DistractingMemoryConfig(GridWorldConfig):
    """Options of :class:`DistractingMemory` (``hallway_length`` is S4WM's "width")."""

    hallway_length: int = 12
    hallway_width: int = 1
    num_distractors: int = 8
    image_size: int = 64
    wrong_reward: float = -1.0
    terminate_on_goal: bool = True
    max_episode_steps: int = 300


class DistractingMemory(GridWorld):
    """Remember the cue room's floor, cross a hallway of distractors, choose the matching room."""

    name = "DistractingMemory"
    actions = ("turn_left", "turn_right", "forward")
    turn_actions = {0: -1, 1: +1}
    show_goal = False
    may_terminate = True  # wrong end / last door, whatever terminate_on_goal says

    def __init__(self, num_envs: int = 1, config: DistractingMemoryConfig | None = None,
                 device="cpu"):  # fmt: skip
        config = config or DistractingMemoryConfig()
        if config.hallway_length < 1 or config.hallway_width < 1:
            raise ValueError("hallway_length and hallway_width must be >= 1")
        self.grid_size = max(config.hallway_length + 9, config.hallway_width + 10)
        self.num_sprites = 1 + config.num_distractors
        self.camera = _camera(config.image_size)
        super().__init__(num_envs, config, device)
        self.wrong = torch.zeros(num_envs, 2, dtype=torch.long, device=self.device)

    def generate(self, rng: np.random.Generator) -> GridLayout:
        cfg: DistractingMemoryConfig = self.config
        g, n, hw = self.grid_size, cfg.hallway_length, cfg.hallway_width
        mid = g // 2
        open_ = np.zeros((g, g), bool)
        open_[mid - 1 : mid + 2, 1:4] = True  # cue room (3x3), x in [1, 4)
        h0 = mid - (hw - 1) // 2
        open_[h0 : h0 + hw, 4 : 4 + n] = True  # hallway
        x1 = 4 + n  # the end rooms: a north and a south arm off the hallway's end
        open_[mid - 3 : mid + 4, x1 : x1 + 3] = True
        room = np.where(open_, 0, -1)
        floor = np.full((g, g), surface_id("concrete"))
        cue, other = rng.choice(len(ROOM_FLOORS), size=2, replace=False)
        floor[mid - 1 : mid + 2, 1:4] = surface_id(ROOM_FLOORS[cue])
        north_is_cue = bool(rng.random() < 0.5)
        ends = [(mid - 3, x1 + 1), (mid + 3, x1 + 1)]  # (y, x) far cells of the two arms
        arms = [slice(mid - 3, mid - 1), slice(mid + 2, mid + 4)]
        for k, ys in enumerate(arms):
            f = cue if (k == 0) == north_is_cue else other
            floor[ys, x1 : x1 + 3] = surface_id(ROOM_FLOORS[f])
        walls = room_walls(open_, room, [surface_id("stone")], surface_id("stone"))
        pos, tex, size, z = _sprites(self.num_sprites)
        hall = np.argwhere(open_[:, 4 : 4 + n]) + [0, 4]
        for i in range(1, self.num_sprites):
            y, x = hall[int(rng.integers(len(hall)))]
            pos[i] = (x + rng.uniform(0.3, 0.7), y + rng.uniform(0.3, 0.7))
            tex[i] = sprite_id(DISTRACTORS[int(rng.integers(len(DISTRACTORS)))])
            size[i] = (0.4, float(rng.uniform(0.4, 0.9)))
        right, wrong = (ends[0], ends[1]) if north_is_cue else (ends[1], ends[0])
        goals = np.array([right] * cfg.num_goals)
        return GridLayout(walls, ~open_, floor, surface_id("plaster"), pos, tex, size, z,
                          (2.5, mid + 0.5), float(rng.uniform(-0.5, 0.5)), goals,
                          extra={"wrong": np.array(wrong)})  # fmt: skip

    def reset(self, env_ids, seeds) -> None:
        super().reset(env_ids, seeds)
        ids = torch.as_tensor(env_ids, dtype=torch.long).reshape(-1).to(self.device)
        wrong = [lay.extra["wrong"] for lay in self.layouts(seeds)]
        if wrong:
            self.wrong[ids] = torch.as_tensor(np.stack(wrong), device=self.device)

    def step(self, action):
        reward, terminated = super().step(action)  # +1 (and termination) at the matching end
        cell = self.pos.floor().long()
        bad = (cell[:, 0] == self.wrong[:, 1]) & (cell[:, 1] == self.wrong[:, 0])
        reward = torch.where(bad, self.config.wrong_reward, reward)
        return reward, terminated | bad


# -- Multi Doors Keys ------------------------------------------------------------------------
@dataclass(frozen=True)
class MultiDoorsKeysConfig(GridWorldConfig):
    """Options of :class:`MultiDoorsKeys`."""

    num_keys: int = 3
    room_size: int = 3
    image_size: int = 64
    goal_reward: float = 0.0  # rewards come from keys, doors and the final apple
    max_episode_steps: int = 500
    num_goals: int = 8


class MultiDoorsKeys(GridWorld):
    """Collect the keys, open the doors in turn, reach the apple (see the module docstring)."""

    name = "MultiDoorsKeys"
    actions = ("turn_left", "turn_right", "forward")
    turn_actions = {0: -1, 1: +1}
    show_goal = False
    may_terminate = True  # wrong end / last door, whatever terminate_on_goal says

    def __init__(self, num_envs: int = 1, config: MultiDoorsKeysConfig | None = None,
                 device="cpu"):  # fmt: skip
        config = config or MultiDoorsKeysConfig()
        if config.num_keys < 1 or config.room_size < 2:
            raise ValueError("num_keys must be >= 1 and room_size >= 2")
        n, r = config.num_keys, config.room_size
        config = _replace(config, num_goals=max(config.num_goals, 2 * n + 1))
        self.grid_size = max((n + 1) * (r + 1) + 1, r + 2)
        self.num_sprites = n + 1
        self.camera = _camera(config.image_size)
        super().__init__(num_envs, config, device)
        b, dev = num_envs, self.device
        self.keys_held = torch.zeros(b, dtype=torch.long, device=dev)
        self.key_cells = torch.zeros(b, n, 2, dtype=torch.long, device=dev)
        self.door_cells = torch.zeros(b, n, 2, dtype=torch.long, device=dev)
        self.door_open = torch.zeros(b, n, dtype=torch.bool, device=dev)
        self.final = torch.zeros(b, 2, dtype=torch.long, device=dev)

    def generate(self, rng: np.random.Generator) -> GridLayout:
        cfg: MultiDoorsKeysConfig = self.config
        n, r, g = cfg.num_keys, cfg.room_size, self.grid_size
        y0 = (g - r) // 2
        open_ = np.zeros((g, g), bool)
        room = np.full((g, g), -1)
        doors = []
        for k in range(n + 1):  # rooms along x, doors in the walls between them
            x0 = 1 + k * (r + 1)
            open_[y0 : y0 + r, x0 : x0 + r] = True
            room[y0 : y0 + r, x0 : x0 + r] = k
            if k < n:
                doors.append((y0 + int(rng.integers(r)), x0 + r))
        floors = rng.choice(len(ROOM_FLOORS), size=n + 1)
        floor = np.full((g, g), surface_id("concrete"))
        for k in range(n + 1):
            floor[room == k] = surface_id(ROOM_FLOORS[floors[k]])
        walls = room_walls(open_, room, [surface_id("brick")] * (n + 1), surface_id("brick"))
        for y, x in doors:
            walls[y, x] = sprite_id("door")
        first = np.argwhere(room == 0)
        picks = rng.permutation(len(first))[: n + 1]
        start, keys = first[picks[0]], first[picks[1:]] if len(first) > n else first[:n]
        last = np.argwhere(room == n)
        final = last[int(rng.integers(len(last)))]
        pos, tex, size, z = _sprites(self.num_sprites)
        for i, (y, x) in enumerate(keys):
            pos[i], tex[i], size[i], z[i] = (x + 0.5, y + 0.5), sprite_id("key"), (0.3, 0.3), 0.1
        pos[n], tex[n] = (final[1] + 0.5, final[0] + 0.5), sprite_id("apple")
        size[n], z[n] = (0.35, 0.35), 0.15
        goals = [tuple(k) for k in keys] + doors + [tuple(final)]
        goals += [tuple(final)] * (cfg.num_goals - len(goals))
        return GridLayout(walls, ~open_, floor, surface_id("plaster"), pos, tex, size, z,
                          (start[1] + 0.5, start[0] + 0.5), float(rng.uniform(0, 2 * math.pi)),
                          np.array(goals), extra={"keys": np.array(keys), "doors": np.array(doors),
                                                  "final": np.array(final)})  # fmt: skip

    def reset(self, env_ids, seeds) -> None:
        super().reset(env_ids, seeds)
        ids = torch.as_tensor(env_ids, dtype=torch.long).reshape(-1).to(self.device)
        lays = self.layouts(seeds)
        if not lays:
            return
        dev = self.device

        def stack(key):
            return torch.as_tensor(np.stack([x.extra[key] for x in lays]), device=dev)

        self.key_cells[ids], self.door_cells[ids], self.final[ids] = (
            stack("keys"),
            stack("doors"),
            stack("final"),
        )
        self.keys_held[ids] = 0
        self.door_open[ids] = False

    def step(self, action):
        action = self.check_action(action)
        b, n = self.num_envs, self.config.num_keys
        reward = torch.zeros(b, device=self.device)
        # Walking into a locked door with a key opens it.
        ahead = self.pos + torch.stack([self.angle.cos(), self.angle.sin()], -1) * 0.6
        ac = ahead.floor().long()
        doors = self.door_cells
        at_door = (doors[..., 1] == ac[:, None, 0]) & (doors[..., 0] == ac[:, None, 1])
        opening = at_door & ~self.door_open & (self.keys_held > 0)[:, None]
        opening &= (action == 2)[:, None]
        opening &= opening.cumsum(1) == 1  # at most one door per step
        # Fixed-shape updates (no index lists: they would read device values on the host).
        g = self.grid_size
        cells = doors[..., 0] * g + doors[..., 1]  # (B, n) flat door cells
        walls, solid = self.scene.walls.view(b, -1), self.solid.view(b, -1)
        walls.scatter_(1, cells, torch.where(opening, -1, walls.gather(1, cells)))
        solid.scatter_(1, cells, solid.gather(1, cells) & ~opening)
        opened = opening.any(1)
        self.door_open |= opening
        self.keys_held -= opened.long()
        self.dist_dirty |= opened
        reward += opened.float()
        super().step(action)
        # Picking up keys.
        cell = self.pos.floor().long()
        keys = self.key_cells
        on_key = (keys[..., 1] == cell[:, None, 0]) & (keys[..., 0] == cell[:, None, 1])
        on_key &= self.scene.sprite_tex[:, :n] >= 0
        self.scene.sprite_tex[:, :n].masked_fill_(on_key, -1)
        taken = on_key.sum(1)
        self.keys_held += taken
        reward += taken.float()
        done = (cell[:, 0] == self.final[:, 1]) & (cell[:, 1] == self.final[:, 0])
        done &= self.door_open.all(1)
        reward += done.float()
        return reward, done


def _replace(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


MEMORY_WORLDS = {
    "FourRooms3D": (FourRooms3D, FourRoomsConfig),
    "DistractingMemory": (DistractingMemory, DistractingMemoryConfig),
    "MultiDoorsKeys": (MultiDoorsKeys, MultiDoorsKeysConfig),
}
