"""Single-environment Gymnasium API and the registered ids ``worldssm/<World>-v0``.

:class:`WorldEnv` wraps a one-environment :class:`~worldssm.envs.world.World` on the CPU (or any
device) and returns NumPy observations, as ``gymnasium.make`` users and
``gymnasium.utils.env_checker.check_env`` expect. ``reset(seed=s)`` replays exactly the episodes
of environment 0 of a :class:`~worldssm.envs.vector.TorchVectorEnv` reset with the same seed.

Registered ids (registration happens when :mod:`worldssm.envs` is imported)::

    gymnasium.make("worldssm/MazeDMLab-v0", maze_size=9)
    gymnasium.make_vec("worldssm/VoxelMinecraft-v0", num_envs=1024,
                       vectorization_mode="vector_entry_point", device="cuda")
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from worldssm.envs.registry import WORLD_NAMES, make_world, world_class
from worldssm.envs.world import World, episode_seed


class WorldEnv(gym.Env):
    """One built-in world behind the standard Gymnasium ``Env`` API (NumPy observations)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, world: str | World = "MazeDMLab", render_mode: str | None = None,
                 device="cpu", **config: Any):  # fmt: skip
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.world = make_world(world, 1, device, **config) if isinstance(world, str) else world
        if self.world.num_envs != 1:
            raise ValueError("WorldEnv needs a world with num_envs=1; use TorchVectorEnv for more")
        self.render_mode = render_mode
        h, w, c = self.world.image_shape
        self.observation_space = spaces.Box(0, 255, (h, w, c), np.uint8)
        self.action_space = spaces.Discrete(len(self.world.actions))
        self._base_seed: int | None = None
        self._episode = 0
        self._frame: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._base_seed, self._episode = int(seed), 0
        elif self._base_seed is None:
            self._base_seed = int(self.np_random.integers(2**31))
        ep_seed = episode_seed(self._base_seed, 0, self._episode)
        self._episode += 1
        self.world.reset(torch.zeros(1, dtype=torch.long), [ep_seed])
        self._frame = self.world.render()[0].cpu().numpy()
        return self._frame, {"episode": self._episode - 1}

    def step(self, action):
        if np.ndim(action) != 0 or not self.action_space.contains(int(action)):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        reward, terminated = self.world.step(torch.tensor([int(action)]))
        self._frame = self.world.render()[0].cpu().numpy()
        return self._frame, float(reward[0]), bool(terminated[0]), False, {}

    def render(self):
        return None if self.render_mode is None else self._frame

    def expert_action(self) -> int:
        """The scripted expert's action in the current state."""
        return int(self.world.expert_action()[0])


def make_vector(world: str, num_envs: int = 1, device="cpu", max_episode_steps=None,
                autoreset_mode="NextStep", render_mode=None, graph: bool = False,
                **config: Any):  # fmt: skip
    """Vector entry point: a :class:`~worldssm.envs.vector.TorchVectorEnv` of ``num_envs``
    (``graph=True``: step + render replayed from one CUDA graph, CUDA only)."""
    from worldssm.envs.vector import TorchVectorEnv

    w = make_world(world, num_envs, device, **config)
    return TorchVectorEnv(w, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode,
                          graph=graph)  # fmt: skip


def register_all() -> None:
    """Register ``worldssm/<name>-v0`` for every built-in world (idempotent)."""
    for name in WORLD_NAMES:
        env_id = f"worldssm/{name}-v0"
        if env_id in gym.registry:
            continue
        cls, cfg_cls = world_class(name)
        gym.register(
            id=env_id,
            entry_point=WorldEnv,
            max_episode_steps=cfg_cls().max_episode_steps,
            kwargs={"world": name},
            vector_entry_point=make_vector,
        )
