"""A world model as a Gymnasium environment: reset from real context, step in imagination.

``reset`` picks one of the given real context clips (frames and the actions that led to them),
runs the model's posterior over it (``model.observe``) and returns the decoded last frame; each
``step(action)`` is one prior step (``model.step``): the decoded frame, the predicted reward, and
``terminated`` when the predicted continue probability drops below ``0.5``. Any Gymnasium agent
can thus act (and be trained) inside the model. Under ``reset(seed=s)`` the clip choice and every
latent sample are drawn from the env's own generator, so runs are reproducible (Gymnasium's
``check_env`` passes).

Example::

    from worldssm.envs.imagined_env import ImaginedEnv, contexts_from_replay
    ctx = contexts_from_replay(replay, num=32, length=16)
    env = ImaginedEnv(model, ctx, max_episode_steps=200)
    # or: gymnasium.make("worldssm/Imagined-v0", model=model, contexts=ctx)
    obs, info = env.reset(seed=0)               # (H, W, 3) uint8, decoded by the model
    obs, reward, terminated, truncated, info = env.step(2)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces


def contexts_from_replay(replay, num: int, length: int) -> dict[str, np.ndarray]:
    """``num`` real clips of ``length`` steps from a :class:`~worldssm.train.replay.ReplayBuffer`
    (obs (N, K, H, W, 3) uint8, action (N, K), is_first (N, K))."""
    batch = replay.sample(num, length)
    return {k: batch[k] for k in ("obs", "action", "is_first")}


class ImaginedEnv(gym.Env):
    """One imagined environment (batch 1) driven by a world model.

    Args:
        model: a world model (:mod:`worldssm.models.world_model` interface); put in eval mode.
        contexts: ``obs`` (N, K, H, W, 3) uint8 (or (N, K, C, H, W) float in [0, 1]),
            ``action`` (N, K) long (``action[:, t]`` led to frame t), optional ``is_first``
            (N, K) bool (default: only the first step).
        max_episode_steps: truncation limit of an imagined episode.
        device: where the model runs (default: the model's device).
        render_mode: None or ``"rgb_array"`` (the last decoded frame).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, model, contexts: dict, max_episode_steps: int = 500, device=None,
                 render_mode: str | None = None):  # fmt: skip
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.model = model.eval()
        self.device = torch.device(device) if device else next(model.parameters()).device
        cfg = model.cfg
        c, s = cfg.image_channels, cfg.image_size
        self.obs_ctx = _context_frames(contexts, c, s)
        n, k = self.obs_ctx.shape[:2]
        self.act_ctx = torch.as_tensor(np.asarray(contexts["action"])).long()
        if tuple(self.act_ctx.shape) != (n, k):
            raise ValueError(f"contexts['action'] must be (N, K) = ({n}, {k}); "
                             f"got {tuple(self.act_ctx.shape)}")  # fmt: skip
        first = contexts.get("is_first")
        first = torch.zeros(n, k, dtype=torch.bool) if first is None else torch.as_tensor(first)
        self.first_ctx = first.bool().clone()
        self.first_ctx[:, 0] = True
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (s, s, c), np.uint8)
        self.action_space = spaces.Discrete(cfg.action_dim)
        self.state = None
        self.elapsed = 0
        self._frame: np.ndarray | None = None

    def _torch_seed(self) -> int:
        return int(self.np_random.integers(2**31 - 1))

    def _frame_of(self, feat: torch.Tensor) -> np.ndarray:
        x = self.model.decode(feat).float().clamp(0, 1)[0]  # (C, H, W)
        return (x * 255).round().byte().permute(1, 2, 0).cpu().numpy()

    @torch.no_grad()
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Observe a context clip (``options["context"]``: its index; default random)."""
        super().reset(seed=seed)
        n = self.obs_ctx.shape[0]
        i = (options or {}).get("context")
        i = int(self.np_random.integers(n)) if i is None else int(i)
        if not 0 <= i < n:
            raise ValueError(f"context index {i} out of range [0, {n})")
        dev = self.device
        obs = self.obs_ctx[i : i + 1].to(dev).float().div(255.0)
        act, first = self.act_ctx[i : i + 1].to(dev), self.first_ctx[i : i + 1].to(dev)
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self._torch_seed())
            self.state, out = self.model.observe(None, obs, act, first)
            self._frame = self._frame_of(out["feat"][:, -1])
        self.elapsed = 0
        return self._frame, {"context": i}

    @torch.no_grad()
    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        if np.ndim(action) != 0 or not self.action_space.contains(int(action)):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        a = torch.tensor([int(action)], device=self.device)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self._torch_seed())
            self.state, out = self.model.step(self.state, a)
            self._frame = self._frame_of(out["feat"])
        self.elapsed += 1
        cont = float(out["cont"][0])
        terminated = cont < 0.5
        truncated = self.elapsed >= self.max_episode_steps and not terminated
        return self._frame, float(out["reward"][0]), terminated, truncated, {"cont": cont}

    def render(self):
        return None if self.render_mode is None else self._frame


def _context_frames(contexts: dict, c: int, s: int) -> torch.Tensor:
    """Context frames as (N, K, C, H, W) uint8 (from HWC uint8 or CHW floats in [0, 1])."""
    if "obs" not in contexts or "action" not in contexts:
        raise KeyError("contexts need 'obs' (N, K, H, W, 3) and 'action' (N, K)")
    obs = torch.as_tensor(np.asarray(contexts["obs"]))
    if obs.dim() != 5:
        raise ValueError(f"contexts['obs'] must be (N, K, H, W, C); got {tuple(obs.shape)}")
    if obs.dtype == torch.uint8 and obs.shape[-1] == c:
        obs = obs.permute(0, 1, 4, 2, 3)
    elif obs.is_floating_point():
        obs = (obs.clamp(0, 1) * 255).round().byte()
    if tuple(obs.shape[2:]) != (c, s, s):
        raise ValueError(f"context frames must be {s}x{s} with {c} channels for this model; got "
                         f"{tuple(obs.shape)}")  # fmt: skip
    return obs.contiguous()


if "worldssm/Imagined-v0" not in gym.registry:
    gym.register(id="worldssm/Imagined-v0", entry_point=ImaginedEnv)
