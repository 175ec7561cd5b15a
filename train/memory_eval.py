"""Memory evaluation of world models (the S4WM paper's protocol, at any scale).

- :func:`imagination_mse`: observe a context of K real frames, imagine N steps with the REAL
  actions (``model.step``), decode, and score against the real frames per horizon (Four Rooms,
  Multi Doors Keys). MSE is reported per pixel (``mse``, frames in [0, 1]) and summed over the
  pixels of a frame (``mse_sum``, the scale of the world-model loss).
- :func:`reward_accuracy`: the sign of the predicted reward where the real reward is non-zero
  (Distracting Memory: +1 at the room matching the cue seen long before, -1 at the other), both
  in imagination after a context and teacher-forced (posterior over the whole episode).
- :func:`rollout_episodes` collects evaluation episodes; :func:`generation_video` writes
  real | imagined mp4s (PyAV).

Episodes use the replay's conventions (:mod:`worldssm.train.replay`): ``action[:, t]`` led to
frame t. An episode that ends early is marked by ``valid`` (N, L) and its later steps are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def rollout_episodes(env: str, num: int, length: int, policy: str | Callable = "random",
                     seed: int = 0, device="cpu", epsilon: float = 0.0,
                     **options) -> dict[str, np.ndarray]:  # fmt: skip
    """Roll out ``num`` episodes of ``length`` frames in parallel in a built-in world.

    Args:
        env: world name (``MultiDoorsKeys``, ``DistractingMemory``, ``FourRooms3D``, ...).
        policy: ``random``, ``expert``, or ``factory(world, seeds) -> policy(obs, state)``
            (called after the reset, e.g. :func:`coin_flip_expert`).
        options: world config fields (``image_size=32`` ...).

    Returns:
        obs (N, L, H, W, 3) uint8, action (N, L) int64, reward/cont (N, L) float32, is_first
        (N, L) bool (only step 0), valid (N, L) bool (False after the episode's end).
    """
    from worldssm.envs import make_world
    from worldssm.envs.world import episode_seed
    from worldssm.train.policies import make_policy

    world = make_world(env, num, device, **options)
    world.reset(torch.arange(num), [episode_seed(seed, 0, e) for e in range(num)])
    pseeds = [episode_seed(seed, 1, e) for e in range(num)]
    if callable(policy):
        pol = policy(world, pseeds)
    else:
        kw = {"epsilon": epsilon} if policy == "expert" else {}
        pol = make_policy(policy, world, pseeds, **kw)
    obs, state = world.render(), None
    frames, actions, rewards, conts = [obs.cpu()], [torch.zeros(num, dtype=torch.long)], [], []
    rewards.append(torch.zeros(num))
    conts.append(torch.ones(num))
    ended = torch.zeros(num, dtype=torch.bool)
    valid = [torch.ones(num, dtype=torch.bool)]
    for _ in range(length - 1):
        action, state = pol(obs, state)
        action = torch.as_tensor(action).long().reshape(-1)
        reward, term = world.step(action.to(world.device))
        obs = world.render()
        frames.append(obs.cpu())
        actions.append(action.cpu())
        rewards.append(torch.where(ended, 0.0, reward.float().cpu()))
        conts.append((~(term.cpu() | ended)).float())
        valid.append(~ended)
        ended |= term.cpu()
    first = torch.zeros(num, length, dtype=torch.bool)
    first[:, 0] = True
    return {
        "obs": torch.stack(frames, 1).numpy(),
        "action": torch.stack(actions, 1).numpy(),
        "reward": torch.stack(rewards, 1).numpy(),
        "cont": torch.stack(conts, 1).numpy(),
        "is_first": first.numpy(),
        "valid": torch.stack(valid, 1).numpy(),
    }


def coin_flip_expert(world, seeds):
    """Distracting Memory policy: the expert, sent to a random end room (the matching one or the
    other, 50/50 per episode from ``seeds``), so both +1 and -1 rewards occur. For worlds with a
    ``wrong`` end cell (:class:`~worldssm.envs.memory.DistractingMemory`), after their reset."""
    from worldssm.train.policies import ExpertPolicy, Streams

    if not hasattr(world, "wrong"):
        raise TypeError(f"coin_flip_expert needs DistractingMemory, got {type(world).__name__}")
    flip = (Streams(seeds).uniform() < 0.5).to(world.device)
    world.goals[flip] = world.wrong[flip][:, None, :]
    world.dist_dirty[flip] = True  # the expert's distance field follows the new goal
    return ExpertPolicy(world, seeds)


def _batch(episodes: dict, idx: slice, device) -> dict[str, torch.Tensor]:
    from worldssm.train.replay import to_model_batch

    out = to_model_batch({k: episodes[k][idx] for k in ("obs", "action", "reward", "cont",
                                                        "is_first")}, device)  # fmt: skip
    out["valid"] = torch.as_tensor(episodes["valid"][idx]).to(device)
    return out


@torch.no_grad()
def imagine_with_actions(model, batch: dict, context: int, horizon: int, sample: bool = True):
    """Observe ``context`` frames, then ``horizon`` prior steps with the real actions.

    Returns:
        frames (B, N, C, H, W) decoded predictions of frames K..K+N-1, and predicted rewards
        (B, N).
    """
    t = batch["obs"].shape[1]
    if context < 1 or horizon < 1 or context + horizon > t:
        raise ValueError(f"need 1 <= context, 1 <= horizon, context + horizon <= {t} frames; "
                         f"got context={context}, horizon={horizon}")  # fmt: skip
    ctx = [batch[k][:, :context] for k in ("obs", "action", "is_first")]
    state, _ = model.observe(None, *ctx, sample=sample, decode=False)
    frames, rewards = [], []
    for i in range(horizon):
        state, out = model.step(state, batch["action"][:, context + i], sample=sample)
        frames.append(model.decode(out["feat"]).float())
        rewards.append(out["reward"].float())
    return torch.stack(frames, 1), torch.stack(rewards, 1)


@torch.no_grad()
def imagination_mse(model, episodes: dict, context: int, horizon: int, batch_size: int = 16,
                    bucket: int = 50, device="cpu") -> dict:  # fmt: skip
    """Per-horizon generation error after a context, averaged over the valid frames.

    Returns:
        ``mse`` and ``mse_sum`` (means over all horizons), ``per_step`` (N,) per-pixel MSE,
        ``buckets`` (per ``bucket`` steps: frames, mse, mse_sum).
    """
    model.eval()
    n = len(episodes["obs"])
    err_sum, count = torch.zeros(horizon), torch.zeros(horizon)
    pixels = None
    for lo in range(0, n, batch_size):
        b = _batch(episodes, slice(lo, lo + batch_size), device)
        pred, _ = imagine_with_actions(model, b, context, horizon)
        real = b["obs"][:, context : context + horizon].float()
        pixels = real[0, 0].numel()
        err = (pred - real).square().flatten(2).mean(-1)  # (B, N)
        ok = b["valid"][:, context : context + horizon].float()
        err_sum += (err * ok).sum(0).cpu()
        count += ok.sum(0).cpu()
    per_step = err_sum / count.clamp_min(1)
    buckets = []
    for s in range(0, horizon, bucket):
        e, c = err_sum[s : s + bucket].sum(), count[s : s + bucket].sum().clamp_min(1)
        row = {"frames": f"{s + 1}-{min(s + bucket, horizon)}", "mse": float(e / c)}
        buckets.append({**row, "mse_sum": row["mse"] * pixels})
    mse = float(err_sum.sum() / count.sum().clamp_min(1))
    return {"mse": mse, "mse_sum": mse * pixels, "per_step": per_step.tolist(), "buckets": buckets,
            "context": context, "horizon": horizon, "episodes": n}  # fmt: skip


@torch.no_grad()
def reward_accuracy(model, episodes: dict, context: int, batch_size: int = 16,
                    device="cpu") -> dict:  # fmt: skip
    """Sign accuracy of predicted rewards at steps whose real reward is non-zero (|r| > 0.5).

    ``imagined``: after ``context`` frames, imagine the rest of the episode with the real actions
    (rewarded steps inside the context are not scored). ``posterior``: the reward head on the
    posterior features of the whole episode. Each is None when no step qualifies.
    """
    model.eval()
    hits = {"imagined": [0, 0], "posterior": [0, 0]}
    n, t = episodes["obs"].shape[:2]
    for lo in range(0, n, batch_size):
        b = _batch(episodes, slice(lo, lo + batch_size), device)
        _, rew = imagine_with_actions(model, b, context, t - context)
        real = b["reward"][:, context:]
        scored = (real.abs() > 0.5) & b["valid"][:, context:]
        hits["imagined"][0] += int(((rew > 0) == (real > 0))[scored].sum())
        hits["imagined"][1] += int(scored.sum())
        _, out = model.observe(None, b["obs"], b["action"], b["is_first"], decode=False)
        post = model.reward_head(out["feat"])[..., 0].float()
        scored = (b["reward"].abs() > 0.5) & b["valid"]
        hits["posterior"][0] += int(((post > 0) == (b["reward"] > 0))[scored].sum())
        hits["posterior"][1] += int(scored.sum())
    acc = {k: (h / c if c else None) for k, (h, c) in hits.items()}
    return {**acc, "scored_imagined": hits["imagined"][1], "scored_posterior": hits["posterior"][1]}


@torch.no_grad()
def generation_video(model, episodes: dict, path: str | Path, context: int, horizon: int,
                     num: int = 4, fps: int = 10, device="cpu") -> Path:  # fmt: skip
    """An mp4 of ``num`` episodes: real | imagined (the context shows real | reconstruction)."""
    from worldssm.train.generate import side_by_side, to_uint8, write_mp4

    model.eval()
    b = _batch(episodes, slice(0, num), device)
    pred, _ = imagine_with_actions(model, b, context, horizon)
    _, out = model.observe(None, *(b[k][:, :context] for k in ("obs", "action", "is_first")))
    recon = model.decode(out["feat"]).float()
    real = b["obs"][:, : context + horizon].float()
    grid = side_by_side(real, torch.cat([recon, pred], 1))
    path = Path(path)
    write_mp4(path, to_uint8(grid), fps)
    return path
