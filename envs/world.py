"""The batched world contract shared by every built-in environment.

A :class:`World` holds the state of ``num_envs`` independent environments as tensors on one device.
It knows nothing about episodes' time limits or autoreset (that is :mod:`worldssm.envs.vector`);
it resets the environments it is told to, from the seeds it is given, steps all of them with one
action each, and renders all of them at once.

Seeding: an episode is a pure function of its integer seed. :func:`episode_seed` derives the seed
of episode ``k`` of environment ``i`` in a run seeded with ``seed``, so environment ``i`` replays
the same episodes whatever the batch size or device.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import torch


def episode_seed(seed: int, env_index: int, episode: int) -> int:
    """The seed of episode ``episode`` of environment ``env_index`` in a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, env_index, episode]).generate_state(1)[0])


@dataclass(frozen=True)
class WorldConfig:
    """Options common to every world (subclasses add their own fields)."""

    max_episode_steps: int = 300  # truncation limit, in env steps


class World(abc.ABC):
    """A batch of environments stepped and rendered as tensors.

    Subclasses set ``name``, ``actions`` (action names; action ``i`` is ``actions[i]``) and
    implement :meth:`reset`, :meth:`step`, :meth:`render`, and optionally :meth:`expert_action`.
    """

    name: str = "world"
    actions: tuple[str, ...] = ()
    # False promises that step() never reports terminated=True: the vector env then finds the
    # episodes to restart from its host-side step counts, without reading device values.
    may_terminate: bool = True

    def __init__(self, num_envs: int, config: WorldConfig, device: torch.device | str = "cpu"):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.config = config
        self.device = torch.device(device)
        # True: step() and render() use only fixed-shape ops that never read a device value on
        # the host (no nonzero, boolean-mask indexing, .item(), early exits), so a GPU never
        # stalls the CPU and the pair can be captured in a CUDA graph. False (the CPU default):
        # data-dependent shortcuts are allowed (dropping finished rays, drawing only the columns
        # a sprite covers), which save work where reading a value costs nothing. Both modes
        # draw the same frames.
        self.static_shapes = self.device.type != "cpu"

    @property
    @abc.abstractmethod
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, 3) of one rendered frame."""

    @abc.abstractmethod
    def reset(self, env_ids: torch.Tensor, seeds: list[int]) -> None:
        """Start a new episode in the environments ``env_ids`` ((n,) long), one seed each."""

    @abc.abstractmethod
    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance every environment by one action ((B,) long).

        Returns:
            reward (B,) float32 and terminated (B,) bool, on the world's device.
        """

    @abc.abstractmethod
    def render(self) -> torch.Tensor:
        """(B, H, W, 3) uint8 first-person frames of every environment."""

    # Largest number of pixels rendered in one pass (None: ``cpu_pixels_per_pass`` on CPU, where
    # smaller working sets stay in cache, 2**26 on GPU, where every pass costs the same number of
    # kernel launches whatever its size); bigger batches render in chunks.
    max_pixels_per_pass: int | None = None
    cpu_pixels_per_pass: int = 1 << 20

    def render_chunks(self, fn) -> torch.Tensor:
        """Call ``fn(lo, hi)`` (renders envs ``lo:hi``) over chunks of the batch; concatenate."""
        h, w, _ = self.image_shape
        default = 1 << 26 if self.device.type == "cuda" else self.cpu_pixels_per_pass
        limit = self.max_pixels_per_pass or default
        step = max(1, limit // (h * w))
        if step >= self.num_envs:
            return fn(0, self.num_envs)
        parts = [fn(lo, min(lo + step, self.num_envs)) for lo in range(0, self.num_envs, step)]
        return torch.cat(parts)

    def layouts(self, seeds: list[int]) -> list:
        """``self.generate(rng)`` for every seed, memoised (benchmarks reuse a few seeds)."""
        cache = self.__dict__.setdefault("_layout_cache", {})
        out = []
        for seed in seeds:
            if seed not in cache:
                if len(cache) >= 4096:
                    cache.clear()
                cache[seed] = self.generate(np.random.default_rng(seed))
            out.append(cache[seed])
        return out

    def generate(self, rng: np.random.Generator):
        """One episode's layout from a NumPy generator (world-specific type)."""
        raise NotImplementedError

    def expert_action(self) -> torch.Tensor:
        """(B,) long: a scripted expert's action in every environment."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted expert")

    def check_action(self, action) -> torch.Tensor:
        """Validate and move a batch of actions to the world's device as (B,) long.

        Lists and arrays are checked on the host (``ValueError``); tensors are range-checked with
        a device-side assertion, which never waits for the GPU (a bad action raises
        ``RuntimeError`` at once on the CPU, and fails the next synchronising call on CUDA).
        """
        n = len(self.actions)
        if not isinstance(action, torch.Tensor):
            host = np.asarray(action).reshape(-1)
            if host.size and (host.min() < 0 or host.max() >= n):
                raise ValueError(f"{self.name} actions must be in [0, {n}), got {host[:8]}")
            action = torch.from_numpy(host.astype(np.int64))
        action = action.to(self.device, torch.long).reshape(-1)
        if action.shape[0] != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got shape {tuple(action.shape)}")
        if action.numel():
            ok = (action >= 0).logical_and_(action < n).all()
            torch._assert_async(ok, f"{self.name} actions must be in [0, {n})")
        return action
