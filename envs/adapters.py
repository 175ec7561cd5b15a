"""Adapters: memory-maze, crafter and miniworld behind the same batched World interface.

Each adapter runs ``num_envs`` instances of the external environment on the CPU (a Python loop)
and exposes them as a :class:`~worldssm.envs.world.World`, so :class:`TorchVectorEnv`,
``worldssm collect`` and the benchmarks treat them like the built-in worlds (random policies
only: they have no scripted expert). The packages are optional (``pip install worldssm[envs]``);
they are imported only when an adapter is built, and a missing one raises an ``ImportError``
naming what to install.

- ``memory-maze`` (``MemoryMaze-9x9-v0`` by default): ``pip install memory-maze mujoco==3.17.0
  gym`` and ``MUJOCO_GL=egl`` (or ``osmesa``) for headless rendering.
- ``crafter``: ``pip install crafter numba``.
- ``miniworld`` (``MiniWorld-FourRooms-v0`` by default): ``pip install miniworld``; it is
  imported with ``pyglet.options["headless"] = True``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from worldssm.envs.world import World, WorldConfig

INSTALL = {
    "memory-maze": "pip install memory-maze mujoco==3.17.0 gym  (and set MUJOCO_GL=egl or osmesa)",
    "crafter": "pip install crafter numba",
    "miniworld": "pip install miniworld",
}


def _require(module: str, adapter: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {adapter} adapter needs the '{module}' package: {INSTALL[adapter]} "
            f"(or pip install 'worldssm[envs]')"
        ) from exc


class _GymnasiumStep:
    """Normalise old-gym (4-tuple) and Gymnasium (5-tuple) envs to the Gymnasium API."""

    def __init__(self, env, new_api: bool):
        self.env, self.new_api = env, new_api
        self.action_space = env.action_space

    def reset(self, seed: int | None = None):
        if self.new_api:
            return self.env.reset(seed=seed)
        if seed is not None and hasattr(self.env, "seed"):
            self.env.seed(seed)
        out = self.env.reset()
        return (out if not isinstance(out, tuple) else out[0]), {}

    def step(self, action):
        out = self.env.step(action)
        if len(out) == 5:
            return out
        obs, reward, done, info = out
        truncated = bool(info.get("TimeLimit.truncated", False))
        return obs, reward, done and not truncated, truncated, info

    def close(self):
        self.env.close()


def _make_memory_maze(env_id: str | None, size: int):
    os.environ.setdefault("MUJOCO_GL", "egl")
    gym = _require("gym", "memory-maze")
    _require("memory_maze", "memory-maze")
    env = gym.make(f"memory_maze:{env_id or 'MemoryMaze-9x9-v0'}", disable_env_checker=True)
    return _GymnasiumStep(env, new_api=False)


class _Crafter:
    """crafter.Env with Gymnasium-style reset/step (crafter draws its own seed per Env)."""

    def __init__(self, size: int):
        self.crafter = _require("crafter", "crafter")
        self.size = size
        self.env = self.crafter.Env(size=(size, size))
        self.action_space = _Discrete(self.env.action_space.n)

    def reset(self, seed: int | None = None):
        if seed is not None:
            self.env = self.crafter.Env(size=(self.size, self.size), seed=int(seed) % 2**31)
        return self.env.reset(), {}

    def step(self, action):
        obs, reward, done, info = self.env.step(int(action))
        terminated = done and info.get("discount", 1.0) == 0
        return obs, reward, terminated, done and not terminated, info

    def close(self):
        pass


class _Discrete:
    def __init__(self, n: int):
        self.n = int(n)

    def sample(self) -> int:
        return int(np.random.randint(self.n))


def _make_miniworld(env_id: str | None, size: int):
    pyglet = _require("pyglet", "miniworld")
    pyglet.options["headless"] = True
    _require("miniworld", "miniworld")
    import gymnasium

    env = gymnasium.make(env_id or "MiniWorld-FourRooms-v0", obs_width=size, obs_height=size)
    return _GymnasiumStep(env, new_api=True)


FACTORIES: dict[str, Callable[[str | None, int], Any]] = {
    "memory-maze": _make_memory_maze,
    "crafter": lambda env_id, size: _Crafter(size),
    "miniworld": _make_miniworld,
}


def make_adapter(name: str, env_id: str | None = None, image_size: int = 64):
    """One external environment with Gymnasium-style ``reset(seed)`` / 5-tuple ``step``."""
    if name not in FACTORIES:
        raise KeyError(f"unknown adapter {name!r}; known: {', '.join(FACTORIES)}")
    return FACTORIES[name](env_id, image_size)


@dataclass(frozen=True)
class AdapterConfig(WorldConfig):
    """Options of an adapter world."""

    env_id: str | None = None  # the external id (e.g. MemoryMaze-15x15-v0); None: the default
    image_size: int = 64
    max_episode_steps: int = 1000


class AdapterWorld(World):
    """``num_envs`` external environments looped on the CPU, as a batched :class:`World`.

    Observations are moved to ``device``; episodes that end inside the external env stay on
    their last frame with ``terminated`` set until the vector env resets them.
    """

    adapter: str = ""

    def __init__(self, num_envs: int = 1, config: AdapterConfig | None = None, device="cpu",
                 factory: Callable[[], Any] | None = None):  # fmt: skip
        config = config or AdapterConfig()
        super().__init__(num_envs, config, device)
        make = factory or (lambda: make_adapter(self.adapter, config.env_id, config.image_size))
        self.envs = [make() for _ in range(num_envs)]
        self.actions = tuple(f"action_{i}" for i in range(self.envs[0].action_space.n))
        self.name = self.adapter or "adapter"
        self._obs: list[np.ndarray | None] = [None] * num_envs

    @property
    def image_shape(self) -> tuple[int, int, int]:
        if self._obs[0] is None:
            self.reset(torch.tensor([0]), [0])
        return tuple(int(d) for d in self._obs[0].shape)

    def reset(self, env_ids, seeds) -> None:
        for i, seed in zip(torch.as_tensor(env_ids).reshape(-1).tolist(), seeds, strict=True):
            obs, _ = self.envs[i].reset(seed=int(seed) % 2**31)
            self._obs[i] = np.asarray(obs, dtype=np.uint8)

    def step(self, action) -> tuple[torch.Tensor, torch.Tensor]:
        action = self.check_action(action).cpu().tolist()
        rewards, terms = np.zeros(self.num_envs, np.float32), np.zeros(self.num_envs, bool)
        for i, a in enumerate(action):
            obs, r, term, trunc, _ = self.envs[i].step(a)
            self._obs[i], rewards[i], terms[i] = np.asarray(obs, dtype=np.uint8), r, term
        return (torch.from_numpy(rewards).to(self.device), torch.from_numpy(terms).to(self.device))

    def render(self) -> torch.Tensor:
        return torch.from_numpy(np.stack(self._obs)).to(self.device)


def _adapter_class(name: str) -> type[AdapterWorld]:
    cls_name = "".join(p.capitalize() for p in name.split("-")) + "Adapter"
    return type(cls_name, (AdapterWorld,), {"adapter": name, "__doc__": f"The {name} adapter."})


ADAPTER_WORLDS = {name: (_adapter_class(name), AdapterConfig) for name in FACTORIES}
