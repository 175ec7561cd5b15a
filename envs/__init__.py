"""Built-in first-person 3D environments (DMLab-, Minecraft- and Habitat-style) and adapters.

Worlds are batched: one :class:`World` object steps and renders ``num_envs`` environments with
tensor ops on CPU or CUDA. Use them through

- :class:`TorchVectorEnv` — Gymnasium ``VectorEnv`` returning torch tensors, with autoreset;
- :class:`WorldEnv` / ``gymnasium.make("worldssm/MazeDMLab-v0")`` — one environment, NumPy;
- :func:`make_world` — the bare batched world (needs only torch and NumPy).

Example::

    import worldssm.envs as envs
    venv = envs.make_vector("MazeDMLab", num_envs=64, device="cpu")
    obs, info = venv.reset(seed=0)             # (64, 64, 64, 3) uint8 tensor
    obs, rew, term, trunc, info = venv.step(venv.expert_actions())
"""

from worldssm.envs.habitat import HabitatConfig, IndoorHabitat
from worldssm.envs.maze import MazeConfig, MazeDMLab
from worldssm.envs.minecraft import MinecraftConfig, VoxelMinecraft
from worldssm.envs.registry import WORLD_NAMES, make_world, world_class
from worldssm.envs.world import World, WorldConfig, episode_seed

try:
    import gymnasium  # noqa: F401
except ImportError:  # the worlds work without it; the Gymnasium API does not
    _GYM_NAMES = ("TorchVectorEnv", "WorldEnv", "make_vector", "register_all")

    def __getattr__(name):
        if name in _GYM_NAMES:
            raise ImportError(f"worldssm.envs.{name} needs gymnasium: pip install gymnasium")
        raise AttributeError(f"module 'worldssm.envs' has no attribute {name!r}")
else:
    from worldssm.envs.gym_env import WorldEnv, make_vector, register_all
    from worldssm.envs.vector import TorchVectorEnv

    register_all()

__all__ = [
    "WORLD_NAMES",
    "HabitatConfig",
    "IndoorHabitat",
    "MazeConfig",
    "MazeDMLab",
    "MinecraftConfig",
    "TorchVectorEnv",
    "VoxelMinecraft",
    "World",
    "WorldConfig",
    "WorldEnv",
    "episode_seed",
    "make_vector",
    "make_world",
    "register_all",
    "world_class",
]
