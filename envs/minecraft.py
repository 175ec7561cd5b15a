"""``VoxelMinecraft``: Minecraft-style voxel terrain (a marsh-like biome), 128x128 by default.

A ``size x size`` block heightmap from fractal noise with a high water table (water, sand banks,
grass, stone tops) and trees (log columns capped with leaves). Actions are TECO's Minecraft set:
0 forward+jump (one step of 0.3 blocks; climbs at most one block; trees and cliffs block),
1 turn left 20°, 2 turn right 20°. There is no reward; episodes are truncated after
``max_episode_steps``. The scripted expert walks forward and turns away from obstacles and the
map edge.

Rendering: on CUDA one pass over all columns (fixed shapes, capturable in a CUDA graph). On the
CPU a large batch is split into one share per torch thread, drawn in parallel by the calling
thread and worker threads whose ops each run on a single core (see
:func:`_single_threaded_workers`); the frames are the same either way. Each share is drawn by
the compiled C renderer where it is available (see :mod:`worldssm.envs.voxel`; it releases the
GIL), else by torch ops; the fixed-shape mode always uses torch ops.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from worldssm.envs import layouts
from worldssm.envs.textures import build_atlas, surface_id
from worldssm.envs.voxel import VoxelCamera, VoxelScene, pack_faces, render_voxels
from worldssm.envs.world import World, WorldConfig

EYE = 1.62  # eye height above the ground, blocks
_WORKERS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _shares(n: int, parts: int) -> list[int]:
    """Bounds of ``parts`` contiguous, nearly equal shares of ``range(n)``."""
    return [n * i // parts for i in range(parts + 1)]


def _single_threaded_workers(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads whose torch ops run on one core each (cached per process).

    Why: the CPU renderer runs thousands of ops per frame batch, each a few to a hundred
    microseconds. Splitting every op over the cores (torch's intra-op threads) adds a
    fork/join barrier per op, which costs more than it saves, and stalls for a scheduler tick
    whenever another process holds a core; rendering separate shares of the batch on threads
    that each run their ops alone keeps the cores busy without barriers.

    A thread's OpenMP thread count is its own once set; torch's setter also changes the
    process-wide default for new threads, so the caller's setting is restored afterwards.
    """
    key = (os.getpid(), n)  # a forked child gets a pool of its own
    if key not in _WORKERS:
        saved = torch.get_num_threads()
        ready = threading.Barrier(n + 1)

        def init():
            torch.get_num_threads()  # first call in a thread: copies the default setting
            torch.set_num_threads(1)
            ready.wait()  # all n threads exist before any is reused

        pool = ThreadPoolExecutor(n, thread_name_prefix="voxel-render", initializer=init)
        for _ in range(n):
            pool.submit(int)
        ready.wait()
        torch.set_num_threads(saved)
        _WORKERS[key] = pool
    return _WORKERS[key]


@dataclass(frozen=True)
class MinecraftConfig(WorldConfig):
    """Options of :class:`VoxelMinecraft`."""

    size: int = 64
    max_height: int = 7
    water_level: int = 2  # columns below this are water
    tree_density: float = 0.03
    image_size: int = 128
    fov_deg: float = 70.0
    view_distance: float = 24.0
    turn_deg: float = 20.0
    move_step: float = 0.3


class VoxelMinecraft(World):
    """Batched Minecraft-style terrain walking (see the module docstring)."""

    name = "VoxelMinecraft"
    actions = ("forward_jump", "turn_left", "turn_right")
    may_terminate = False  # no task: episodes only end by truncation

    def __init__(self, num_envs: int = 1, config: MinecraftConfig | None = None, device="cpu"):
        config = config or MinecraftConfig()
        if config.size < 8:
            raise ValueError(f"terrain size must be >= 8, got {config.size}")
        super().__init__(num_envs, config, device)
        self.camera = VoxelCamera(
            height=config.image_size,
            width=config.image_size,
            fov_deg=config.fov_deg,
            view_distance=config.view_distance,
        )
        self.atlas = build_atlas(device=self.device)
        b, g, dev = num_envs, config.size, self.device
        self.scene = VoxelScene(
            height=torch.zeros(b, g, g, device=dev),
            faces=torch.zeros(b, g, g, dtype=torch.int32, device=dev),
            outside_height=config.water_level - 0.2,
        )
        self.ground = torch.zeros(b, g, g, device=dev)  # walkable height (water: its surface)
        self.pos = torch.zeros(b, 2, device=dev)
        self.angle = torch.zeros(b, device=dev)
        self._turn = (torch.tensor([0.0, -1.0, 1.0]) * math.radians(config.turn_deg)).to(dev)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.camera.height, self.camera.width, 3)

    def generate(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One episode's terrain and start pose (NumPy)."""
        cfg: MinecraftConfig = self.config
        hgt = layouts.terrain(rng, cfg.size, cfg.max_height).astype(np.float32)
        top = np.full(hgt.shape, surface_id("grass_top"))
        side = np.full(hgt.shape, surface_id("dirt"))
        cap = np.full(hgt.shape, surface_id("grass_side"))
        water = hgt < cfg.water_level
        hgt[water] = cfg.water_level - 0.2
        for m, name in ((water, "water"), (hgt == cfg.water_level, "sand")):
            top[m], side[m], cap[m] = (surface_id(name),) * 3
        rock = hgt >= cfg.max_height - 1
        top[rock], side[rock], cap[rock] = (surface_id("stone"),) * 3
        ground = hgt.copy()
        trees = (top == surface_id("grass_top")) & (rng.random(hgt.shape) < cfg.tree_density)
        hgt[trees] += 3 + rng.integers(0, 2, size=hgt.shape)[trees]
        leaves = surface_id("leaves")
        top[trees], side[trees], cap[trees] = leaves, surface_id("log"), leaves
        ground[trees] = hgt[trees]
        land = np.argwhere(~trees & ~water)
        if len(land) == 0:
            land = np.argwhere(~trees)
        y, x = land[int(rng.integers(len(land)))]
        return {
            "height": hgt,
            "top": top,
            "side": side,
            "cap": cap,
            "ground": ground,
            "pos": np.array([x + 0.5, y + 0.5], np.float32),
            "angle": np.float32(rng.uniform(0, 2 * math.pi)),
        }

    def reset(self, env_ids: torch.Tensor, seeds: list[int]) -> None:
        env_ids = torch.as_tensor(env_ids, dtype=torch.long).reshape(-1)
        if len(seeds) != env_ids.numel():
            raise ValueError(f"{env_ids.numel()} environments to reset but {len(seeds)} seeds")
        if not seeds:
            return
        lays = self.layouts(seeds)
        ids = env_ids.to(self.device)

        def stack(key, dtype):
            return torch.as_tensor(np.stack([x[key] for x in lays]), dtype=dtype).to(self.device)

        self.scene.height[ids] = stack("height", torch.float32)
        self.scene.faces[ids] = pack_faces(stack("top", torch.int32), stack("side", torch.int32),
                                           stack("cap", torch.int32))  # fmt: skip
        self.ground[ids] = stack("ground", torch.float32)
        self.pos[ids] = stack("pos", torch.float32)
        self.angle[ids] = stack("angle", torch.float32)

    def _ground_at(self, xy: torch.Tensor) -> torch.Tensor:
        """(B,) walkable height at points (B, 2); +inf outside the map."""
        g = self.config.size
        c = xy.floor().long()
        inside = (c >= 0).all(-1) & (c < g).all(-1)
        idx = (c[:, 1].clamp(0, g - 1) * g + c[:, 0].clamp(0, g - 1))[:, None]
        h = self.ground.reshape(self.num_envs, -1).gather(1, idx).squeeze(1)
        return torch.where(inside, h, torch.full_like(h, float("inf")))

    def _can_move(self, step: torch.Tensor) -> torch.Tensor:
        here = self._ground_at(self.pos)
        ahead = self._ground_at(self.pos + step * (1 + 0.3 / self.config.move_step))
        return (ahead - here) <= 1.0

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        action = self.check_action(action)
        cfg: MinecraftConfig = self.config
        # In place (CUDA graphs replay on the same storage); the turn comes from a per-action
        # table: float32(radians) * (-1, 0 or 1), as the former torch.where chain computed it.
        turn = self._turn.index_select(0, action)
        torch.remainder(self.angle + turn, 2 * math.pi, out=self.angle)
        step = torch.stack([self.angle.cos(), self.angle.sin()], -1) * cfg.move_step
        ok = (action == 0) & self._can_move(step)
        self.pos.add_(step * ok[:, None])  # + step or exactly + 0
        zeros = torch.zeros(self.num_envs, device=self.device)
        return zeros, torch.zeros_like(zeros, dtype=torch.bool)

    def eye(self) -> torch.Tensor:
        """(B,) camera height: the ground under the agent plus the eye height."""
        return self._ground_at(self.pos) + EYE

    # Envs rendered per pass, and pixels per chunk of a pass's per-pixel stage: each op of the
    # renderer costs a few microseconds of Python and dispatch (held under the GIL), so larger
    # passes and chunks win although their buffers outgrow the L2 cache (measured, 2 cores, 64x64,
    # 1024 envs, alternating in one process: 1 << 22 / 1 << 19 / 8192 cell columns against the
    # former 1 << 21 / 1 << 18 / 4096: 1 thread 9.3k vs 8.6k frames/s (median thread CPU), 2
    # threads about equal to 20% faster; smaller chunks were slower).
    cpu_pixels_per_pass = 1 << 22
    cpu_pixels_per_chunk = 1 << 19
    # CPU: smallest share of the batch worth a thread of its own (see _render_threads). Below
    # it, torch's intra-op threads do better on an idle machine (measured, 2 cores, 64x64: 256
    # envs 12.0k frames/s against 10.6k in two shares; 1024 envs 9.3k against 11-16k), but
    # stall when another process holds a core.
    cpu_min_envs_per_thread = 256

    def render(self) -> torch.Tensor:
        eye = self.eye()
        if self.device.type == "cuda":  # one pass over all columns (fixed shapes, sync-free)
            workspace = self.__dict__.setdefault("_render_workspace", {})

            def part(lo, hi):
                scene = self.scene if (lo, hi) == (0, self.num_envs) else self.scene.slice(lo, hi)
                args = (scene, self.pos[lo:hi], self.angle[lo:hi], eye[lo:hi], self.camera,
                        self.atlas)  # fmt: skip
                return render_voxels(*args, workspace=workspace)

            return self.render_chunks(part)
        frames = torch.empty((self.num_envs, *self.image_shape), dtype=torch.uint8)
        spaces = self.__dict__.setdefault("_render_workspaces", {})  # one per thread's share
        threads, parts = torch.get_num_threads(), self._render_threads()
        if parts == 1:  # torch's own threads, if any, split each op
            self._render_share(0, self.num_envs, eye, frames, spaces.setdefault(0, {}))
            return frames
        # Share 0 on this thread, the others on workers; every op runs on one core (see
        # _single_threaded_workers).
        bounds = _shares(self.num_envs, parts)
        pool = _single_threaded_workers(threads - 1)
        shares = list(enumerate(zip(bounds[:-1], bounds[1:], strict=True)))
        jobs = [pool.submit(self._render_share, lo, hi, eye, frames, spaces.setdefault(i, {}))
                for i, (lo, hi) in shares[1:]]  # fmt: skip
        # This thread's ops alone for the moment (sets torch's process default too: restored).
        torch.set_num_threads(1)
        try:
            self._render_share(*shares[0][1], eye, frames, spaces.setdefault(0, {}))
        finally:
            torch.set_num_threads(threads)
        for job in jobs:
            job.result()
        return frames

    def _render_threads(self) -> int:
        """Shares of the batch to render in parallel on the CPU: up to torch's thread count, each
        of at least ``cpu_min_envs_per_thread`` environments; 1 in the fixed-shape mode (drawn
        on the calling thread, whose ops its checks trace)."""
        if self.static_shapes:
            return 1
        return max(1, min(torch.get_num_threads(), self.num_envs // self.cpu_min_envs_per_thread))

    def _render_share(self, lo: int, hi: int, eye: torch.Tensor, frames: torch.Tensor, ws: dict):
        """Draw environments ``lo:hi`` into ``frames[lo:hi]``, in passes of about
        ``cpu_pixels_per_pass`` pixels (temporaries of one pass stay in the CPU caches)."""
        h, w, _ = self.image_shape
        step = max(1, self.cpu_pixels_per_pass // (h * w))
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            scene = self.scene if (a, b) == (0, self.num_envs) else self.scene.slice(a, b)
            render_voxels(scene, self.pos[a:b], self.angle[a:b], eye[a:b], self.camera, self.atlas,
                          max_pixels=self.cpu_pixels_per_chunk, workspace=ws, out=frames[a:b],
                          kernel=False if self.static_shapes else None)  # fmt: skip

    def expert_action(self) -> torch.Tensor:
        """Walk forward; turn (right) when the block ahead is too high or off the map."""
        step = torch.stack([self.angle.cos(), self.angle.sin()], -1) * self.config.move_step
        free = self._can_move(step) & self._can_move(step * 3)
        return torch.where(free, 0, 2).long()
