"""The world-model interface shared by S4WM, RSSM and the Transformer SSM, and its ELBO.

Conventions (DreamerV3-style), for sequences of length T:

- ``obs`` (B, T, C, H, W) float in [0, 1]; ``action`` (B, T) long, ``action[:, t]`` is the action
  taken *before* obs t (ignored where ``is_first``); ``reward`` and ``cont`` (B, T) float observed
  with obs t; ``is_first`` (B, T) bool marks episode starts (the state resets there).
- h_t: the deterministic state, a function of z_{<t} and actions ≤ t (a sequence core: S5 stack,
  GRU or causal Transformer over tokens u_t = W [z_{t-1}, onehot(a_t)]); z_t: the stochastic
  latent, posterior q(z_t | x_t [, h_t]), prior p(z_t | h_t). The feature the actor and critic
  read is feat_t = [h_t, z_t] (B, T, F), F = ``model.feat_dim``.

API (every model): ``initial``, ``observe``, ``loss``, ``step``, ``imagine``, ``decode``.
Subclasses implement the sequence core: ``_core_initial``, ``_core_step`` and, when the posterior
needs no h (S4WM, Transformer: ``parallel = True``), a parallel ``_core`` over a whole chunk.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.models.latents import detach_stats, make_latent
from worldssm.models.wm_heads import ObsDecoder, ObsEncoder, mlp


@dataclass
class WorldModelConfig:
    """Sizes and loss weights shared by the world models.

    Attributes:
        image_size, image_channels: frames are (image_channels, image_size, image_size).
        action_dim: number of discrete actions.
        latent: ``"gaussian"`` (``stoch`` dims) or ``"categorical"`` (``stoch`` one-hot variables
            of ``classes`` classes, straight-through, ``unimix`` uniform mixing).
        d_model: width of h (the deterministic state) and of the core's tokens.
        hidden: width of the MLPs (posterior, prior, reward, continue) and of the embedding.
        head_layers: hidden layers of those MLPs.
        enc_channels, enc_blocks: ResNet encoder/decoder stages (each but the last halves H, W).
        min_std: floor of the Gaussian std.
        free_nats, kl_balance: KL loss = balance·max(free, KL(sg(q)‖p)) + (1-balance)·max(free,
            KL(q‖sg(p))), per step.
        recon_scale, reward_scale, cont_scale, kl_scale: loss weights.
    """

    image_size: int = 64
    image_channels: int = 3
    action_dim: int = 4
    latent: str = "gaussian"
    stoch: int = 32
    classes: int = 32
    unimix: float = 0.01
    min_std: float = 0.1
    d_model: int = 512
    hidden: int = 512
    head_layers: int = 2
    enc_channels: tuple[int, ...] = (32, 64, 128, 256, 256)
    enc_blocks: int = 1
    free_nats: float = 1.0
    kl_balance: float = 0.8
    recon_scale: float = 1.0
    reward_scale: float = 1.0
    cont_scale: float = 1.0
    kl_scale: float = 1.0

    def __post_init__(self):
        self.enc_channels = tuple(int(c) for c in self.enc_channels)
        down = 2 ** (len(self.enc_channels) - 1)
        if self.image_size % down:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by {down} (one halving per "
                f"encoder stage after the first; enc_channels={self.enc_channels})"
            )
        if self.latent not in ("gaussian", "categorical"):
            raise ValueError(f"latent must be 'gaussian' or 'categorical'; got {self.latent!r}")
        if self.action_dim < 1:
            raise ValueError(f"action_dim must be >= 1; got {self.action_dim}")
        if not 0.0 <= self.kl_balance <= 1.0:
            raise ValueError(f"kl_balance must be in [0, 1]; got {self.kl_balance}")


@dataclass
class WorldModelState:
    """The recurrent state after a step: h (B, d_model), z (B, z_dim) and the core's own state
    (S5 states, GRU state or KV cache). ``feat`` is [h, z] (B, F)."""

    h: torch.Tensor
    z: torch.Tensor
    core: Any

    @property
    def feat(self) -> torch.Tensor:
        return torch.cat([self.h, self.z], -1)

    def detach(self) -> WorldModelState:
        """The same state without its autograd history (to continue training on a new chunk)."""
        return tree_map(lambda t: t.detach(), self)

    def to(self, *args, **kwargs) -> WorldModelState:
        return tree_map(lambda t: t.to(*args, **kwargs), self)


def tree_map(fn, obj):
    """Apply ``fn`` to every tensor in nested dataclasses / lists / tuples / dicts."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        vals = {f.name: tree_map(fn, getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return type(obj)(**vals)
    if isinstance(obj, (list, tuple)):
        return type(obj)(tree_map(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: tree_map(fn, v) for k, v in obj.items()}
    return obj


def _stack_flat(items: list):
    """Per-step states (each with batch B) -> one with batch B·T (row b·T + t)."""
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(items, 1).flatten(0, 1)
    if isinstance(first, (list, tuple)):
        return type(first)(_stack_flat(list(parts)) for parts in zip(*items, strict=True))
    raise TypeError(f"cannot stack core states of type {type(first).__name__}")


class WorldModel(nn.Module):
    """Encoder, latents, heads, ELBO and imagination around a sequence core (subclasses)."""

    parallel = False  # True: the posterior is q(z_t | x_t) and the core runs over whole chunks

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.latent = make_latent(cfg.latent, cfg.stoch, cfg.classes, cfg.min_std, cfg.unimix)
        z_dim = self.latent.z_dim
        self.feat_dim = cfg.d_model + z_dim
        self.encoder = ObsEncoder(
            cfg.image_channels, cfg.image_size, cfg.enc_channels, cfg.enc_blocks, cfg.hidden
        )
        self.decoder = ObsDecoder(
            self.feat_dim, cfg.image_channels, cfg.image_size, cfg.enc_channels, cfg.enc_blocks
        )
        post_in = cfg.hidden if self.parallel else cfg.hidden + cfg.d_model
        self.post_net = mlp(post_in, cfg.hidden, self.latent.num_stats, cfg.head_layers)
        self.prior_net = mlp(cfg.d_model, cfg.hidden, self.latent.num_stats, cfg.head_layers)
        self.token_in = nn.Sequential(
            nn.Linear(z_dim + cfg.action_dim, cfg.d_model), nn.LayerNorm(cfg.d_model), nn.SiLU()
        )
        self.reward_head = mlp(self.feat_dim, cfg.hidden, 1, cfg.head_layers)
        self.cont_head = mlp(self.feat_dim, cfg.hidden, 1, cfg.head_layers)

    # -- the sequence core (subclasses) ----------------------------------------------------------
    def _core_initial(self, batch: int, device, dtype):
        raise NotImplementedError

    def _core(self, core, u: torch.Tensor, is_first: torch.Tensor, all_states: bool = False):
        """Parallel: tokens u (B, T, D), is_first (B, T) -> h (B, T, D), the core state after T
        and, if ``all_states``, the core states after every step with batch B·T (else None)."""
        raise NotImplementedError

    def _core_step(self, core, u: torch.Tensor, is_first: torch.Tensor):
        """One step: u (B, D), is_first (B,) -> h (B, D), new core state."""
        raise NotImplementedError

    # -- checks and small pieces -----------------------------------------------------------------
    def _check(self, obs, action, is_first) -> None:
        c, s = self.cfg.image_channels, self.cfg.image_size
        name = type(self).__name__
        if not isinstance(obs, torch.Tensor) or obs.dim() != 5 or obs.shape[2:] != (c, s, s):
            got = tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__
            raise ValueError(f"{name}: obs must be (B, T, {c}, {s}, {s}) in [0, 1]; got {got}")
        if not obs.is_floating_point():
            raise TypeError(f"{name}: obs must be float in [0, 1]; got {obs.dtype} (use x / 255)")
        bt = tuple(obs.shape[:2])
        for key, t in (("action", action), ("is_first", is_first)):
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != bt:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{name}: {key} must be (B, T) = {bt}; got {got}")
        if is_first.dtype != torch.bool:
            raise TypeError(f"{name}: is_first must be bool; got {is_first.dtype} (use .bool())")
        self._check_action(action)

    def _check_action(self, action: torch.Tensor, check_range: bool = True) -> None:
        if action.is_floating_point() or action.is_complex() or action.dtype == torch.bool:
            raise TypeError(f"action must be an integer (long) tensor; got {action.dtype}")
        n = self.cfg.action_dim
        if check_range and action.numel():
            lo, hi = torch.stack([action.min(), action.max()]).tolist()  # one device sync
            if lo < 0 or hi >= n:
                raise ValueError(f"actions must be in [0, {n}); got [{lo}, {hi}]")

    def _onehot(self, action: torch.Tensor, dtype) -> torch.Tensor:
        # a comparison, not F.one_hot: no host sync inside imagination loops
        classes = torch.arange(self.cfg.action_dim, device=action.device)
        return (action.long()[..., None] == classes).to(dtype)

    def _tokens(self, z_prev, action, is_first):
        """u = token_in([z_{t-1}, onehot(a_t)]), both zeroed where is_first. Any lead dims."""
        keep = (~is_first)[..., None].to(z_prev.dtype)
        x = torch.cat([z_prev * keep, self._onehot(action, z_prev.dtype) * keep], -1)
        return self.token_in(x)

    # -- public API -----------------------------------------------------------------------------
    def initial(self, batch_size: int, device=None, dtype=torch.float32) -> WorldModelState:
        """The empty state for ``batch_size`` sequences (h = 0, z = 0, fresh core)."""
        h = torch.zeros(batch_size, self.cfg.d_model, device=device, dtype=dtype)
        z = torch.zeros(batch_size, self.latent.z_dim, device=device, dtype=dtype)
        return WorldModelState(h, z, self._core_initial(batch_size, device, dtype))

    def observe(
        self,
        state: WorldModelState | None,
        obs: torch.Tensor,
        action: torch.Tensor,
        is_first: torch.Tensor,
        sample: bool = True,
        decode: bool = True,
        return_states: bool = False,
    ) -> tuple[WorldModelState, dict]:
        """Run the posterior over a chunk of real frames.

        Args:
            state: the state before the chunk (``initial`` if None).
            obs (B, T, C, H, W) in [0, 1]; action (B, T) long; is_first (B, T) bool.
            sample: sample z from the posterior (else its mode: the mean / the argmax one-hot).
            decode: also decode the frames (``out["recon"]``).
            return_states: also return ``out["states"]``, the state after every step as one
                :class:`WorldModelState` of batch B·T (row b·T + t), e.g. to start imagination
                from every posterior step (DreamerV3).

        Returns:
            the state after the last step, and ``out`` with ``feat`` (B, T, F), ``h`` (B, T, D),
            ``z`` (B, T, Z), ``post`` and ``prior`` stats (dicts of (B, T, ...)), ``embed``
            (B, T, E) and ``recon`` (B, T, C, H, W) when ``decode``.
        """
        self._check(obs, action, is_first)
        bsz, t = obs.shape[:2]
        if state is None:
            state = self.initial(bsz, obs.device, obs.dtype)
        elif not isinstance(state, WorldModelState) or state.h.shape[0] != bsz:
            got = state.h.shape[0] if isinstance(state, WorldModelState) else type(state).__name__
            raise ValueError(f"observe: state must be a WorldModelState of batch {bsz}; got {got}")
        embed = self.encoder(obs)
        if self.parallel:
            post = self.latent.stats(self.post_net(embed))
            z = self.latent.sample(post, sample)
            z_prev = torch.cat([state.z[:, None].to(z.dtype), z[:, :-1]], 1)
            u = self._tokens(z_prev, action, is_first)
            h, core, every = self._core(state.core, u, is_first, return_states)
        else:
            core, z_t, hs, zs, stats, cores = state.core, state.z, [], [], [], []
            for i in range(t):
                u = self._tokens(z_t, action[:, i], is_first[:, i])
                h_t, core = self._core_step(core, u, is_first[:, i])
                s = self.latent.stats(self.post_net(torch.cat([h_t, embed[:, i]], -1)))
                z_t = self.latent.sample(s, sample)
                hs.append(h_t)
                zs.append(z_t)
                stats.append(s)
                cores.append(core)
            h, z = torch.stack(hs, 1), torch.stack(zs, 1)
            post = {k: torch.stack([s[k] for s in stats], 1) for k in stats[0]}
            every = _stack_flat(cores) if return_states else None
        prior = self.latent.stats(self.prior_net(h))
        feat = torch.cat([h, z], -1)
        out = {"feat": feat, "h": h, "z": z, "post": post, "prior": prior, "embed": embed}
        if decode:
            out["recon"] = self.decoder(feat)
        if return_states:
            out["states"] = WorldModelState(h.flatten(0, 1), z.flatten(0, 1), every)
        return WorldModelState(h[:, -1], z[:, -1], core), out

    def step(self, state: WorldModelState, action: torch.Tensor, sample: bool = True):
        """One imagination step from the prior.

        Args:
            state: the current state; action (B,) long, taken now.

        Returns:
            the new state and ``out`` with ``feat`` (B, F), ``h``, ``z``, ``prior`` stats,
            ``reward`` (B,) (head mean) and ``cont`` (B,) (probability of continuing).
        """
        if not isinstance(action, torch.Tensor) or action.shape != state.h.shape[:1]:
            got = tuple(action.shape) if isinstance(action, torch.Tensor) else type(action)
            raise ValueError(f"step: action must be (B,) = ({state.h.shape[0]},); got {got}")
        # the range check syncs with the device: on GPU only once per observe, not every step
        self._check_action(action, check_range=action.device.type == "cpu")
        first = torch.zeros_like(action, dtype=torch.bool)
        h, core = self._core_step(state.core, self._tokens(state.z, action, first), first)
        prior = self.latent.stats(self.prior_net(h))
        z = self.latent.sample(prior, sample)
        feat = torch.cat([h, z], -1)
        out = {"feat": feat, "h": h, "z": z, "prior": prior}
        out["reward"] = self.reward_head(feat)[..., 0]
        out["cont"] = torch.sigmoid(self.cont_head(feat)[..., 0])
        return WorldModelState(h, z, core), out

    def imagine(self, state: WorldModelState, policy, horizon: int, sample: bool = True) -> dict:
        """Roll the prior forward ``horizon`` steps under ``policy``.

        Args:
            state: start state (B sequences), e.g. from :meth:`observe`.
            policy: ``policy(feat (B, F)) -> action (B,)`` long, or ``-> (action, extra)`` with
                ``extra`` a dict of tensors (e.g. log-probs, entropies).
            horizon: H steps.

        Returns:
            ``feat`` (B, H+1, F) (index 0 is the start state), ``action`` (B, H), ``reward``
            (B, H), ``cont`` (B, H), ``state`` (the final state) and, when the policy returns
            extras, ``extra``: each key stacked to (B, H, ...).
        """
        feats, actions, rewards, conts, extras = [state.feat], [], [], [], []
        for _ in range(horizon):
            res = policy(feats[-1])
            action, extra = res if isinstance(res, tuple) else (res, None)
            state, out = self.step(state, action, sample)
            feats.append(out["feat"])
            actions.append(action)
            rewards.append(out["reward"])
            conts.append(out["cont"])
            if extra is not None:
                extras.append(extra)
        bsz = state.h.shape[0]
        traj = {
            "feat": torch.stack(feats, 1),
            "action": torch.stack(actions, 1) if actions else state.h.new_zeros(bsz, 0).long(),
            "reward": torch.stack(rewards, 1) if rewards else state.h.new_zeros(bsz, 0),
            "cont": torch.stack(conts, 1) if conts else state.h.new_zeros(bsz, 0),
            "state": state,
        }
        if extras:
            traj["extra"] = {k: torch.stack([e[k] for e in extras], 1) for k in extras[0]}
        return traj

    def decode(self, feat_or_out) -> torch.Tensor:
        """Frames (B, [T,] C, H, W) in [0, 1] from features (B, [T,] F) or an ``out`` dict."""
        feat = feat_or_out["feat"] if isinstance(feat_or_out, dict) else feat_or_out
        if feat.shape[-1] != self.feat_dim:
            raise ValueError(f"decode: features must be (..., {self.feat_dim}); got {feat.shape}")
        return self.decoder(feat)

    def loss(self, batch: dict, state: WorldModelState | None = None, sample: bool = True):
        """The negative ELBO of a batch of sequences.

        Args:
            batch: ``obs``, ``action``, ``reward``, ``cont``, ``is_first`` (see module doc).
            state: the state before the chunk (``initial`` if None).

        Returns:
            ``loss`` (scalar), ``metrics`` (dict of floats) and the (detached) state after the
            chunk. Per step: recon = Σ_pixels (x̂ - x)², reward = (r̂ - r)², cont = BCE, and the
            balanced KL with free nats; the loss averages them over (B, T).
        """
        missing = [k for k in ("obs", "action", "reward", "cont", "is_first") if k not in batch]
        if missing:
            raise KeyError(f"loss: batch lacks {missing}; it needs obs/action/reward/cont/is_first")
        cfg = self.cfg
        obs = batch["obs"]
        state, out = self.observe(state, obs, batch["action"], batch["is_first"], sample)
        for key in ("reward", "cont"):
            if tuple(batch[key].shape) != tuple(obs.shape[:2]):
                raise ValueError(f"loss: {key} must be (B, T) = {tuple(obs.shape[:2])}")
        # loss terms in at least float32 (the nets may run under bf16 autocast)
        ft = torch.promote_types(obs.dtype, torch.float32)
        recon = ((out["recon"].to(ft) - obs.to(ft)) ** 2).sum((-3, -2, -1))
        reward = (self.reward_head(out["feat"])[..., 0].to(ft) - batch["reward"].to(ft)) ** 2
        cont_logit = self.cont_head(out["feat"])[..., 0].to(ft)
        cont = F.binary_cross_entropy_with_logits(
            cont_logit, batch["cont"].to(ft), reduction="none"
        )
        post, prior = out["post"], out["prior"]
        kl_dyn = self.latent.kl(detach_stats(post), prior)
        kl_rep = self.latent.kl(post, detach_stats(prior))
        kl = cfg.kl_balance * kl_dyn.clamp(min=cfg.free_nats) + (1 - cfg.kl_balance) * (
            kl_rep.clamp(min=cfg.free_nats)
        )
        total = (
            cfg.recon_scale * recon
            + cfg.reward_scale * reward
            + cfg.cont_scale * cont
            + cfg.kl_scale * kl
        ).mean()
        with torch.no_grad():
            parts = {
                "loss": total,
                "recon": recon.mean(),
                "recon_mse": recon.mean() / obs[0, 0].numel(),
                "reward": reward.mean(),
                "cont": cont.mean(),
                "kl": kl_dyn.mean(),
                "kl_loss": kl.mean(),
                "post_entropy": self.latent.entropy(post).mean(),
                "prior_entropy": self.latent.entropy(prior).mean(),
            }
            # one device sync for all metrics
            values = torch.stack([v.detach().to(ft) for v in parts.values()]).tolist()
        metrics = dict(zip(parts, values, strict=True))
        return total, metrics, state.detach()
