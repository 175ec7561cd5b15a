"""Trainer for every task (frame prediction, frame interpolation; :mod:`worldssm.train.tasks`
picks it from ``data.kind``): AMP (bf16 on GPU), gradient clipping, cosine schedule with warmup,
atomic resumable checkpoints, TensorBoard, tqdm, periodic validation, and DDP under torchrun.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import torch
import yaml

from worldssm.models import param_groups
from worldssm.registry import create_model
from worldssm.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from worldssm.train.config import TrainConfig
from worldssm.train.frame_prediction import StepBatchSampler
from worldssm.train.tasks import make_task


class CosineWithWarmup:
    """LR multiplier: linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total``.

    ``total`` is the run's step count; a run cut by ``run.max_minutes`` moves it to the step the
    time limit is expected to reach (see :func:`steps_in_time`), so the LR still decays.
    """

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, total

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# Steps of one invocation between which a time-limited run measures its pace (the first few pay
# for start-up: data workers, allocator, first kernels).
FIT_FROM, FIT_TO = 5, 25
_now = time.time  # the trainer's clock (tests replace it)


def steps_in_time(step: int, seconds_per_step: float, seconds_left: float, steps: int,
                  device: torch.device) -> int:  # fmt: skip
    """The step a time-limited run is expected to stop at: ``step`` plus what fits into
    ``seconds_left`` at ``seconds_per_step``, at most ``steps``.

    Under DDP rank 0's estimate is broadcast, so every rank follows the same LR schedule.
    """
    end = min(steps, step + int(max(0.0, seconds_left) / max(seconds_per_step, 1e-9)))
    if torch.distributed.is_initialized():
        flag = torch.tensor([float(end)], device=device, dtype=torch.float64)
        torch.distributed.broadcast(flag, src=0)
        end = int(flag.item())
    return end


def build_model(cfg: TrainConfig):
    kw = dict(cfg.model)
    name = kw.pop("name")
    return create_model(name, **kw)


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.run.device != "auto":
        return torch.device(cfg.run.device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def time_is_up(t0: float, max_minutes: float, device: torch.device) -> bool:
    """Whether ``max_minutes`` have passed since ``t0`` by rank 0's clock.

    Under DDP every rank must stop at the same step: a rank that stops alone leaves the others
    waiting in the gradient all-reduce forever. So rank 0 decides and broadcasts its decision.
    """
    up = bool(max_minutes) and _now() - t0 > 60 * max_minutes
    if max_minutes and torch.distributed.is_initialized():
        flag = torch.tensor([float(up)], device=device)
        torch.distributed.broadcast(flag, src=0)
        up = bool(flag.item())
    return up


def train(cfg: TrainConfig, resume: bool = True, progress: bool = True) -> dict:
    """Train per ``cfg``; resumes from ``run_dir/checkpoint.pt`` when present and ``resume``.

    Under torchrun (``WORLD_SIZE`` > 1) it wraps the model in DDP (NCCL on GPU, gloo on CPU);
    rank 0 writes logs and checkpoints. Returns ``{"step", "loss", "checkpoint"}``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(cfg, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, rank=rank, world_size=world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.run.seed)

    run_dir = Path(cfg.run.run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    model = build_model(cfg).to(device)
    task = make_task(cfg)
    task.check(model)
    groups = param_groups(model, cfg.optim.weight_decay, cfg.optim.ssm_lr)
    opt = torch.optim.AdamW(groups, lr=cfg.optim.lr)
    schedule = CosineWithWarmup(cfg.optim.warmup_steps, cfg.run.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    step = 0
    if resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        schedule.total = cfg.run.steps  # this run's length (an earlier run may have fitted it)
        set_rng_state(ckpt["rng"])
        step = ckpt["step"]
        if rank == 0 and progress:  # a re-run of the same command continues, say so
            print(
                f"resuming {ckpt_path} at step {step} of {cfg.run.steps}"
                + (" (nothing left to train)" if step >= cfg.run.steps else "")
                + "; --no-resume starts over",
                flush=True,
            )
    net = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    dataset = task.dataset(seed=cfg.run.seed, items_per_step=cfg.optim.batch_size * world)
    sampler = StepBatchSampler(cfg.optim.batch_size, step, cfg.run.steps, rank, world)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=cfg.data.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    main = rank == 0
    val = task.validation_set(device) if main else None
    writer = None
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    amp = cfg.run.amp and device.type == "cuda"

    def save():
        if main:
            save_checkpoint(
                ckpt_path,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "step": step,
                    "rng": rng_state(),
                    "config": cfg.to_dict(),
                    "model_name": cfg.model["name"],
                    "model_config": dataclasses.asdict(model.cfg),
                    "task": task.name,
                },
            )

    from tqdm import tqdm

    bar = tqdm(total=cfg.run.steps, initial=step, disable=not (progress and main), desc="train")
    t0, loss_val = _now(), float("nan")
    start, t_fit = step, None
    model.train()
    for batch in loader:
        loss, pred = task.loss(net, model, batch, device, amp)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        sched.step()
        step += 1
        loss_val = loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_val:.4f}")
        if writer and step % cfg.run.log_every == 0:
            writer.add_scalar("train/loss", loss_val, step)
            writer.add_scalar("train/grad_norm", float(gnorm), step)
            writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
        if writer and cfg.run.sample_every and step % cfg.run.sample_every == 0:
            writer.add_images(*task.samples(batch, pred), step)
        if writer and val is not None and step % cfg.run.val_every == 0:
            for key, value in task.validate(model, val, device, amp).items():
                writer.add_scalar(f"val/{key}", value, step)
        if cfg.run.checkpoint_every and step % cfg.run.checkpoint_every == 0:
            save()
        if cfg.run.max_minutes and step - start in (FIT_FROM, FIT_TO):
            # A time-limited run: once its pace is known, end the LR schedule where the time
            # limit is expected to stop it (it would otherwise stop with the LR barely decayed).
            if step - start == FIT_FROM:
                t_fit = _now()
            else:
                pace = (_now() - t_fit) / (FIT_TO - FIT_FROM)
                left = 60 * cfg.run.max_minutes - (_now() - t0)
                end = steps_in_time(step, pace, left, cfg.run.steps, device)
                schedule.total = max(end, cfg.optim.warmup_steps + 1)
                if main and progress and end < cfg.run.steps:
                    limit = f"{cfg.run.max_minutes:g}-minute limit"
                    tqdm.write(f"the {limit} fits about {end} of {cfg.run.steps} steps: the LR "
                               "schedule now ends there")  # fmt: skip
        if time_is_up(t0, cfg.run.max_minutes, device):
            break
    bar.close()
    save()
    if writer:
        writer.close()
    return {"step": step, "loss": loss_val, "checkpoint": str(ckpt_path)}
