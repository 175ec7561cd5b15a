"""World names and constructors (no Gymnasium needed: the worlds are plain torch)."""

from __future__ import annotations

import dataclasses
from typing import Any

from worldssm.envs.world import World

# The built-in worlds, registered with Gymnasium as ``worldssm/<name>-v0``.
WORLD_NAMES = (
    "MazeDMLab",
    "VoxelMinecraft",
    "IndoorHabitat",
    "FourRooms3D",
    "DistractingMemory",
    "MultiDoorsKeys",
)


def world_class(name: str) -> tuple[type[World], type]:
    """The world class and its config class for a world name (``MazeDMLab``, ...)."""
    from worldssm.envs.adapters import ADAPTER_WORLDS
    from worldssm.envs.habitat import HabitatConfig, IndoorHabitat
    from worldssm.envs.maze import MazeConfig, MazeDMLab
    from worldssm.envs.memory import MEMORY_WORLDS
    from worldssm.envs.minecraft import MinecraftConfig, VoxelMinecraft

    worlds = {
        "MazeDMLab": (MazeDMLab, MazeConfig),
        "VoxelMinecraft": (VoxelMinecraft, MinecraftConfig),
        "IndoorHabitat": (IndoorHabitat, HabitatConfig),
        **MEMORY_WORLDS,
        **ADAPTER_WORLDS,
    }
    if name not in worlds:
        raise KeyError(f"unknown world {name!r}; known: {', '.join(worlds)}")
    return worlds[name]


def make_world(name: str, num_envs: int = 1, device="cpu", **config: Any) -> World:
    """Build a batched world by name; ``config`` overrides fields of its config dataclass."""
    cls, cfg_cls = world_class(name)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = set(config) - fields
    if unknown:
        raise TypeError(f"{name} has no option(s) {sorted(unknown)}; options: {sorted(fields)}")
    return cls(num_envs, cfg_cls(**config), device=device)
