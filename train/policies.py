"""Policies for rollouts and data collection.

A policy is any callable ``policy(obs, state) -> (action, state)``: ``obs`` is a (B, H, W, 3)
uint8 tensor, ``action`` a (B,) long tensor, and ``state`` whatever the policy carries between
calls (``None`` at the start of an episode batch). Trained agents plug in by following the same
signature; the built-in ones are:

- :class:`RandomPolicy` — uniform actions, optionally repeated (sticky), from per-environment
  seeded streams;
- :class:`ExpertPolicy` — the world's scripted expert (maze BFS, apartment shortest path,
  Minecraft walker), with an optional fraction of random actions for diversity.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class Policy(Protocol):
    """``policy(obs, state) -> (action, state)``; see the module docstring."""

    def __call__(self, obs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...


class Streams:
    """Independent, reproducible uniform random streams, one per environment.

    A MINSTD generator (``x <- 48271 x mod 2^31 - 1``) per row, vectorised over the batch, so the
    numbers environment ``i`` sees depend only on its own seed: an episode replays the same
    whatever batch it is collected in.
    """

    M = 2**31 - 1

    def __init__(self, seeds):
        seeds = torch.as_tensor(seeds, dtype=torch.long).reshape(-1)
        self.x = seeds % (self.M - 1) + 1
        for _ in range(3):  # decorrelate nearby seeds
            self.uniform()

    def uniform(self) -> torch.Tensor:
        """(B,) float64 in (0, 1), and advance every stream."""
        self.x = self.x * 48271 % self.M
        return self.x.double() / self.M

    def integers(self, n: int) -> torch.Tensor:
        """(B,) long in [0, n)."""
        return (self.uniform() * n).long().clamp_max(n - 1)


class RandomPolicy:
    """Uniformly random actions; with ``repeat > 0`` each action is kept with that probability.

    Args:
        num_actions: size of the discrete action space.
        seeds: one seed per environment (see :class:`Streams`); an int seeds ``range`` of them.
        repeat: probability of repeating the previous action instead of drawing a new one.
    """

    def __init__(self, num_actions: int, seeds, repeat: float = 0.0):
        if num_actions < 1:
            raise ValueError(f"num_actions must be >= 1, got {num_actions}")
        if not 0.0 <= repeat < 1.0:
            raise ValueError(f"repeat must be in [0, 1), got {repeat}")
        self.num_actions = num_actions
        self.repeat = repeat
        self.streams = Streams(seeds)

    def __call__(self, obs: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if obs.shape[0] != self.streams.x.shape[0]:
            raise ValueError(f"policy has {self.streams.x.shape[0]} streams, batch {obs.shape[0]}")
        new = self.streams.integers(self.num_actions)
        if self.repeat > 0:
            keep = self.streams.uniform() < self.repeat
            if state is not None:
                new = torch.where(keep, state, new)
        return new.to(obs.device), new


class ExpertPolicy:
    """The world's scripted expert (``world.expert_action()``), with ``epsilon`` random actions.

    Args:
        world: a :class:`worldssm.envs.World` (or anything with ``expert_action()`` and
            ``actions``); the policy reads the world's state, not the pixels.
        seeds: one seed per environment for the random actions.
        epsilon: probability of a uniformly random action instead of the expert's.
    """

    def __init__(self, world, seeds, epsilon: float = 0.0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.world = world
        self.epsilon = epsilon
        self.streams = Streams(seeds)

    def __call__(self, obs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        action = self.world.expert_action()
        if self.epsilon > 0:
            rand = self.streams.integers(len(self.world.actions)).to(action.device)
            pick = (self.streams.uniform() < self.epsilon).to(action.device)
            action = torch.where(pick, rand, action)
        return action, state


def make_policy(name: str, world, seeds, **kwargs: Any) -> Policy:
    """A built-in policy by name (``random`` or ``expert``) with one seed per environment."""
    if name == "random":
        return RandomPolicy(len(world.actions), seeds, **kwargs)
    if name == "expert":
        return ExpertPolicy(world, seeds, **kwargs)
    raise ValueError(f"unknown policy {name!r}; use 'random', 'expert' or pass a callable")
