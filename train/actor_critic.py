"""DreamerV3-style actor-critic trained in imagination.

From imagined trajectories of a world model (``model.imagine``: feat (N, H+1, F), action (N, H),
reward (N, H), cont (N, H)) it computes λ-returns bootstrapped with a slow (EMA) critic,

    R_t = r_t + γ c_t ((1 - λ) V(s_{t+1}) + λ R_{t+1}),   R_H = V(s_H),

normalises advantages by a running percentile scale ``S = EMA(P95(R) - P5(R))`` (divided by
``max(1, S)`` so small returns are not blown up), and trains

- the actor (a categorical policy over discrete actions) with REINFORCE on the normalised
  advantage plus an entropy bonus ``η H(π)``;
- the critic, in symlog space, towards the λ-returns, regularised towards the slow critic.

Steps after a predicted episode end count less: the loss weight of step ``t`` is
``prod_{j<t} c_j``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ActorCriticConfig:
    """Options of :class:`ActorCritic` (the ``ac`` section of an agent config)."""

    horizon: int = 15  # imagination steps
    discount: float = 0.985
    lam: float = 0.95
    entropy: float = 3e-4  # η
    hidden: int = 256
    layers: int = 2
    actor_lr: float = 1e-4
    critic_lr: float = 1e-4
    grad_clip: float = 100.0
    slow_fraction: float = 0.02  # EMA step of the slow critic per update
    slow_reg: float = 1.0  # weight of the pull towards the slow critic
    return_decay: float = 0.99  # EMA decay of the percentile scale
    start_chunks: int = 0  # 0: imagine from every replayed step (B*T starts); k: k per sequence


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def mlp(inp: int, out: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` hidden Linear-LayerNorm-SiLU blocks, then a Linear to ``out``."""
    mods, d = [], inp
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        d = hidden
    mods.append(nn.Linear(d, out))
    return nn.Sequential(*mods)


def lambda_returns(reward: torch.Tensor, value: torch.Tensor, cont: torch.Tensor,
                   discount: float, lam: float) -> torch.Tensor:  # fmt: skip
    """λ-returns of imagined trajectories.

    Args:
        reward: (N, H) reward of the transition into step t+1.
        value: (N, H+1) values of steps 0..H (the last one bootstraps).
        cont: (N, H) continue probability of step t+1.

    Returns:
        (N, H) returns R_0..R_{H-1}.
    """
    if value.shape[1] != reward.shape[1] + 1 or cont.shape != reward.shape:
        raise ValueError(
            f"need reward/cont (N, H) and value (N, H+1); got {tuple(reward.shape)}, "
            f"{tuple(cont.shape)}, {tuple(value.shape)}"
        )
    disc = discount * cont
    nxt = value[:, -1]
    out = []
    for t in reversed(range(reward.shape[1])):
        nxt = reward[:, t] + disc[:, t] * ((1 - lam) * value[:, t + 1] + lam * nxt)
        out.append(nxt)
    return torch.stack(out[::-1], 1)


class ReturnScale(nn.Module):
    """EMA of the 5th-95th percentile range of returns (a buffer, so it is checkpointed)."""

    def __init__(self, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("range", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, returns: torch.Tensor) -> torch.Tensor:
        """Update with a batch of returns; the divisor ``max(1, S)``."""
        flat = returns.detach().float().flatten()
        q = torch.quantile(flat, torch.tensor([0.05, 0.95], device=flat.device))
        r = q[1] - q[0]
        if not bool(self.initialised):
            self.range.copy_(r)
            self.initialised.fill_(True)
        else:
            self.range.mul_(self.decay).add_((1 - self.decay) * r)
        return self.range.clamp_min(1.0)


class ActorCritic(nn.Module):
    """Actor, critic and slow critic over world-model features (F = ``model.feat_dim``)."""

    def __init__(self, feat_dim: int, num_actions: int, cfg: ActorCriticConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ActorCriticConfig()
        self.num_actions = num_actions
        self.actor = mlp(feat_dim, num_actions, cfg.hidden, cfg.layers)
        self.critic = mlp(feat_dim, 1, cfg.hidden, cfg.layers)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.scale = ReturnScale(cfg.return_decay)
        # Start the actor near uniform and the critic at zero, as DreamerV3 zero-inits outputs.
        for head in (self.actor[-1], self.critic[-1]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.slow_critic.load_state_dict(self.critic.state_dict())

    def dist(self, feat: torch.Tensor) -> torch.distributions.Categorical:
        # 1% uniform mixture keeps every action possible (DreamerV3's unimix).
        probs = self.actor(feat.float()).softmax(-1)
        probs = 0.99 * probs + 0.01 / self.num_actions
        return torch.distributions.Categorical(probs=probs)

    @torch.no_grad()
    def act(self, feat: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """(…, F) features -> (…,) long actions (sampled, or the mode when ``greedy``)."""
        d = self.dist(feat)
        return d.probs.argmax(-1) if greedy else d.sample()

    def value(self, feat: torch.Tensor, slow: bool = False) -> torch.Tensor:
        """(…, F) -> (…,) value (the critic predicts symlog values)."""
        net = self.slow_critic if slow else self.critic
        return symexp(net(feat.float()).squeeze(-1))

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        c = self.cfg
        return (
            torch.optim.Adam(self.actor.parameters(), lr=c.actor_lr, eps=1e-5),
            torch.optim.Adam(self.critic.parameters(), lr=c.critic_lr, eps=1e-5),
        )

    def loss(self, traj: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Actor and critic losses of one batch of imagined trajectories (detached inputs).

        Returns:
            actor_loss, critic_loss (scalars) and metrics (floats).
        """
        c = self.cfg
        feat = traj["feat"].detach().float()
        action, reward = traj["action"].detach().long(), traj["reward"].detach().float()
        cont = traj["cont"].detach().float()
        with torch.no_grad():
            value = self.value(feat, slow=True)  # (N, H+1)
            ret = lambda_returns(reward, value, cont, c.discount, c.lam)
            weight = torch.cumprod(torch.cat([torch.ones_like(cont[:, :1]), cont[:, :-1]], 1), 1)
            scale = self.scale.update(ret)
            base = self.value(feat[:, :-1])
            adv = (ret - base) / scale
        dist = self.dist(feat[:, :-1])
        logp = dist.log_prob(action)
        ent = dist.entropy()
        actor_loss = -(weight * (logp * adv + c.entropy * ent)).mean()
        pred = self.critic(feat[:, :-1]).squeeze(-1)
        with torch.no_grad():
            slow = self.slow_critic(feat[:, :-1]).squeeze(-1)
        critic_loss = (
            weight * (0.5 * (pred - symlog(ret)) ** 2 + c.slow_reg * 0.5 * (pred - slow) ** 2)
        ).mean()
        metrics = {
            "return": ret.mean().item(),
            "return_scale": float(scale),
            "entropy": ent.mean().item(),
            "imag_reward": reward.mean().item(),
            "value": base.mean().item(),
        }
        return actor_loss, critic_loss, metrics

    @torch.no_grad()
    def update_slow(self) -> None:
        """Move the slow critic ``slow_fraction`` of the way towards the critic."""
        f = self.cfg.slow_fraction
        for s, p in zip(self.slow_critic.parameters(), self.critic.parameters(), strict=True):
            s.lerp_(p, f)


class AgentPolicy:
    """Acts in a real vector env: filters observations with the world model, samples the actor.

    A runner policy (``(obs (B, H, W, 3) uint8, is_first (B,), state) -> (action, state)``);
    the state is ``(world-model state, previous action)``.
    """

    def __init__(self, model, ac: ActorCritic, device, greedy: bool = False, amp: bool = False):
        self.model, self.ac, self.device, self.greedy, self.amp = model, ac, device, greedy, amp

    @torch.no_grad()
    def __call__(self, obs, is_first, state):
        b = obs.shape[0]
        first = is_first.to(self.device).bool()[:, None]
        if state is None:  # mid-episode start: the model begins from its initial state anyway
            state = (self.model.initial(b, self.device), torch.zeros(b, dtype=torch.long))
            first = torch.ones_like(first)
        wm_state, prev = state
        x = obs.to(self.device).permute(0, 3, 1, 2).float().div(255.0)[:, None]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            wm_state, out = self.model.observe(
                wm_state, x, prev.to(self.device)[:, None], first, decode=False
            )
        action = self.ac.act(out["feat"][:, 0].float(), self.greedy).cpu()
        return action, (wm_state, action)
