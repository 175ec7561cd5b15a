"""Roll policies out in the built-in worlds and write datasets in TECO's formats.

Layout under ``out``::

    manifest.json                      what was collected (config, actions, files)
    {split}/{shard}/{i}.npz            DMLab style: video (T, H, W, 3) uint8, actions (T,) int64,
                                       rewards (T,) float32
    {split}/{shard}/{i}.mp4 + {i}.npz  Minecraft/Habitat style: H.264 video + actions, rewards

Episode ``e`` lives in shard ``e // shard_size`` as file ``e % shard_size``. ``video[t]`` is the
frame the policy saw when it chose ``actions[t]``; ``video[t + 1]`` is the result (the outcome of
the last action is not stored); with ``action_repeat = k`` each action is applied for ``k`` env
steps between recorded frames (rewards summed), as TECO's DMLab frames span several env steps.
An episode is a pure function of ``(seed, e)`` and the policy's
seed, so collection is resumable: every file is written to a temporary name and renamed
(``os.replace``) when complete, a rerun skips the episodes whose files exist, and the result is
the same as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

MP4_WORLDS = ("VoxelMinecraft", "IndoorHabitat")


@dataclass
class CollectConfig:
    """What to collect and where (the ``worldssm collect`` flags map onto these fields)."""

    env: str = "MazeDMLab"
    out: str = "data"
    episodes: int = 10
    length: int = 300  # frames per episode
    policy: str = "expert"  # expert | random | module:factory (factory(world) -> policy)
    split: str = "train"
    num_envs: int = 16  # episodes rolled out in parallel
    shard_size: int = 100  # episodes per {split}/{shard} folder
    seed: int = 0
    device: str = "cpu"
    video_format: str = "auto"  # auto | npz | mp4 (auto: TECO's choice per world)
    epsilon: float = 0.0  # expert only: fraction of random actions
    action_repeat: int = 1  # env steps per recorded frame
    fps: int = 20
    env_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if min(self.episodes, self.num_envs, self.shard_size, self.action_repeat) < 1:
            raise ValueError("episodes, num_envs, shard_size and action_repeat must be >= 1")
        if self.length < 2:
            raise ValueError(f"length must be >= 2 frames, got {self.length}")
        if self.video_format not in ("auto", "npz", "mp4"):
            raise ValueError(f"video_format must be auto, npz or mp4, got {self.video_format!r}")

    def resolved_format(self) -> str:
        if self.video_format != "auto":
            return self.video_format
        return "mp4" if self.env in MP4_WORLDS else "npz"


def episode_path(cfg: CollectConfig, e: int) -> Path:
    """Path (without suffix) of episode ``e``."""
    return Path(cfg.out) / cfg.split / str(e // cfg.shard_size) / str(e % cfg.shard_size)


def _episode_done(cfg: CollectConfig, e: int) -> bool:
    p = episode_path(cfg, e)
    done = p.with_suffix(".npz").exists()
    return done and (cfg.resolved_format() != "mp4" or p.with_suffix(".mp4").exists())


def _atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def write_mp4(path: Path, video: np.ndarray, fps: int = 20) -> None:
    """Write (T, H, W, 3) uint8 frames as H.264 (yuv420p) with PyAV, atomically."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.mp4")
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = video.shape[2], video.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in video:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def read_mp4(path: str | Path) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of an mp4 file (PyAV)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _load_policy(cfg: CollectConfig, world, seeds: list[int]) -> Callable:
    from worldssm.train.policies import make_policy

    if ":" in cfg.policy:
        module, attr = cfg.policy.split(":", 1)
        return getattr(importlib.import_module(module), attr)(world)
    kwargs = {"epsilon": cfg.epsilon} if cfg.policy == "expert" else {}
    return make_policy(cfg.policy, world, seeds, **kwargs)


def _write_manifest(cfg: CollectConfig, world, done: list[int]) -> None:
    fmt = cfg.resolved_format()
    manifest = {
        "format": "teco-" + fmt,
        "env": cfg.env,
        "actions": list(world.actions),
        "image_shape": list(world.image_shape),
        "config": dataclasses.asdict(cfg),
        "episodes_done": len(done),
        "files": [
            {"episode": e, "path": str(episode_path(cfg, e).relative_to(cfg.out)) + "." + fmt}
            for e in sorted(done)
        ],
    }
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".manifest.tmp-{os.getpid()}.json"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / "manifest.json")


def _check_resume(cfg: CollectConfig) -> None:
    path = Path(cfg.out) / "manifest.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())["config"]
    keys = ("env", "length", "policy", "split", "shard_size", "seed", "env_options", "epsilon",
            "action_repeat")  # fmt: skip
    diff = [k for k in keys if old.get(k) != dataclasses.asdict(cfg)[k]]
    if diff:
        raise ValueError(
            f"{cfg.out} holds a collection with different {diff}; use another --out to start anew"
        )


def collect(cfg: CollectConfig, policy: Callable | None = None, progress: bool = True) -> dict:
    """Collect ``cfg.episodes`` episodes into ``cfg.out`` (resuming where files already exist).

    Args:
        cfg: what to collect.
        policy: ``policy(obs, state) -> (action, state)``; default: built from ``cfg.policy``.
        progress: show a tqdm progress bar.

    Returns:
        Summary: ``{"written": n_new, "skipped": n_existing, "out": path}``.
    """
    from tqdm.auto import tqdm

    from worldssm.envs import make_world
    from worldssm.envs.world import episode_seed

    _check_resume(cfg)
    world = make_world(cfg.env, cfg.num_envs, cfg.device, **cfg.env_options)
    todo = [e for e in range(cfg.episodes) if not _episode_done(cfg, e)]
    done = sorted(set(range(cfg.episodes)) - set(todo))
    fmt = cfg.resolved_format()
    bar = tqdm(total=cfg.episodes, initial=len(done), disable=not progress, unit="ep",
               desc=f"collect {cfg.env}")  # fmt: skip
    b = cfg.num_envs
    for start in range(0, len(todo), b):
        batch = todo[start : start + b]
        seeds = [episode_seed(cfg.seed, 0, e) for e in batch]
        seeds += [0] * (b - len(batch))  # idle environments of a last, partial batch
        world.reset(torch.arange(b), seeds)
        policy_seeds = [episode_seed(cfg.seed, 1, e) for e in batch] + [0] * (b - len(batch))
        pol = policy or _load_policy(cfg, world, policy_seeds)
        frames, actions, rewards = [], [], []
        ended = torch.zeros(b, dtype=torch.bool)
        lengths = torch.full((b,), cfg.length, dtype=torch.long)
        obs, state = world.render(), None
        for t in range(cfg.length):
            frames.append(obs.cpu())
            action, state = pol(obs, state)
            action = torch.as_tensor(action).long().reshape(-1)
            reward, terminated = world.step(action.to(world.device))
            for _ in range(cfg.action_repeat - 1):
                more, term = world.step(action.to(world.device))
                reward, terminated = reward + more * ~terminated, terminated | term
            actions.append(action.cpu())
            rewards.append(reward.float().cpu())
            newly = terminated.cpu() & ~ended
            lengths = torch.where(newly, t + 2, lengths).clamp_max(cfg.length)
            ended |= newly
            obs = world.render()
        video = torch.stack(frames, 1).numpy()  # (b, T, H, W, 3)
        acts, rews = torch.stack(actions, 1).numpy(), torch.stack(rewards, 1).numpy()
        for j, e in enumerate(batch):
            n = int(lengths[j])
            path = episode_path(cfg, e)
            if fmt == "mp4":
                write_mp4(path.with_suffix(".mp4"), video[j, :n], cfg.fps)
                _atomic_save_npz(path.with_suffix(".npz"), actions=acts[j, :n], rewards=rews[j, :n])
            else:
                _atomic_save_npz(
                    path.with_suffix(".npz"), video=video[j, :n], actions=acts[j, :n],
                    rewards=rews[j, :n],
                )  # fmt: skip
            done.append(e)
        _write_manifest(cfg, world, done)
        bar.update(len(batch))
    bar.close()
    _write_manifest(cfg, world, done)
    return {"written": len(todo), "skipped": cfg.episodes - len(todo), "out": cfg.out}


def load_episode(path: str | Path) -> dict[str, np.ndarray]:
    """Read one collected episode (``.npz`` path; its ``.mp4`` is read when present)."""
    path = Path(path)
    data = dict(np.load(path.with_suffix(".npz")))
    mp4 = path.with_suffix(".mp4")
    if "video" not in data and mp4.exists():
        data["video"] = read_mp4(mp4)
    return data
