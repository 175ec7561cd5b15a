"""Local multi-process DDP without torchrun (CPU tests and quick checks).

Real runs use torchrun, which sets RANK / WORLD_SIZE / LOCAL_RANK; :func:`train` reads those.
"""

from __future__ import annotations

import os

import torch


def _worker(rank: int, world: int, cfg_dict: dict, port: int) -> None:
    from worldssm.train.config import TrainConfig
    from worldssm.train.trainer import train

    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    try:
        train(TrainConfig.from_dict(cfg_dict), resume=False, progress=False)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def spawn_local(cfg, world: int, port: int = 29511) -> None:
    """Train ``cfg`` (a :class:`TrainConfig`) with ``world`` local processes (gloo on CPU)."""
    torch.multiprocessing.spawn(_worker, args=(world, cfg.to_dict(), port), nprocs=world, join=True)
