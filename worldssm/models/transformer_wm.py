"""Transformer SSM: the S4WM paper's baseline with a causal Transformer as the sequence core.

Same posterior q(z_t | x_t), prior, heads and losses as S4WM (shared in
:mod:`worldssm.models.world_model`); h_t is the output of a pre-LN causal Transformer over the
tokens u_t = W [z_{t-1}, a_t] plus sinusoidal positions counted from the episode start.
Attention is masked to the same episode (episode ids from ``is_first``) and to a sliding window
of the last ``window`` tokens, so a chunk in parallel equals stepping through it with the KV
cache, and the per-step cost of imagination stays bounded (O(window), not O(1) as in S4WM).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from worldssm.models.frame_transformer import AttentionLayer, KVCache, sinusoid
from worldssm.models.world_model import WorldModel, WorldModelConfig


@dataclass
class TransformerWMConfig(WorldModelConfig):
    """:class:`WorldModelConfig` plus ``num_layers`` attention blocks of ``heads`` heads over the
    last ``window`` tokens of the episode."""

    num_layers: int = 2
    heads: int = 8
    mlp_ratio: int = 4
    window: int = 256

    def __post_init__(self):
        super().__post_init__()
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by heads {self.heads}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1 token; got {self.window}")


class TransformerWM(WorldModel):
    """Causal Transformer world model; core state: a :class:`KVCache` of the last window - 1
    tokens (keys and values per layer, their episode ids, the current episode and position)."""

    parallel = True

    def __init__(self, cfg: TransformerWMConfig):
        super().__init__(cfg)
        self.layers = nn.ModuleList(
            AttentionLayer(cfg.d_model, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        self.out_norm = nn.LayerNorm(cfg.d_model)

    def _core_initial(self, batch: int, device, dtype) -> KVCache:
        cfg = self.cfg
        empty = torch.zeros(
            batch, cfg.heads, 0, cfg.d_model // cfg.heads, device=device, dtype=dtype
        )
        ep = torch.zeros(batch, 0, device=device, dtype=torch.long)
        cur = torch.zeros(batch, device=device, dtype=torch.long)
        n = cfg.num_layers
        return KVCache([empty] * n, [empty] * n, ep, cur, cur.clone())

    def _core(self, core: KVCache, u, is_first, all_states: bool = False):
        bsz, t = u.shape[:2]
        idx = torch.arange(t, device=u.device).expand(bsz, t)
        episode = core.current[:, None] + torch.cumsum(is_first.long(), 1)
        last = torch.where(is_first, idx, torch.full_like(idx, -1)).cummax(1).values
        position = torch.where(last >= 0, idx - last, core.position[:, None] + idx)
        x = u + sinusoid(position, self.cfg.d_model).to(u.dtype)
        all_ep = torch.cat([core.episode, episode], 1)
        past = core.episode.shape[1]
        q_idx = torch.arange(past, past + t, device=u.device)[:, None]
        k_idx = torch.arange(past + t, device=u.device)[None, :]
        causal = (k_idx <= q_idx) & (q_idx - k_idx < self.cfg.window)
        mask = (causal[None] & (episode[:, :, None] == all_ep[:, None, :]))[:, None]
        keys, values = [], []
        # the cache may come from a call with(out) autocast: match the dtype keys have now
        dev = u.device.type
        kv_dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype
        for layer, pk, pv in zip(self.layers, core.keys, core.values, strict=True):
            x, k, v = layer(x, mask, pk.to(kv_dtype), pv.to(kv_dtype))
            keys.append(k)
            values.append(v)
        keep = self.cfg.window - 1  # the oldest token a later query can still see
        new = KVCache(
            [k[:, :, max(k.shape[2] - keep, 0) :] for k in keys],
            [v[:, :, max(v.shape[2] - keep, 0) :] for v in values],
            all_ep[:, max(all_ep.shape[1] - keep, 0) :],
            episode[:, -1],
            position[:, -1] + 1,
        )
        every = None
        if all_states:
            every = KVCache(
                [_windows(k, past, keep, 0.0) for k in keys],
                [_windows(v, past, keep, 0.0) for v in values],
                _windows(all_ep[:, None, :, None], past, keep, -1)[:, 0, :, 0],
                episode.flatten(),
                (position + 1).flatten(),
            )
        return self.out_norm(x), new, every

    def _core_step(self, core: KVCache, u, is_first):
        h, core, _ = self._core(core, u[:, None], is_first[:, None])
        return h[:, 0], core


def _windows(x: torch.Tensor, past: int, keep: int, pad) -> torch.Tensor:
    """The cache after each new token: x (B, H, past + T, E) -> (B·T, H, keep, E), the ``keep``
    entries up to and including token t, front-padded with ``pad`` (episode id -1 never matches,
    so padding is masked out)."""
    b, h, total, e = x.shape
    t = total - past
    if keep == 0:
        return x.new_zeros(b * t, h, 0, e)
    padded = torch.cat([x.new_full((b, h, keep, e), pad), x], 2)
    # window ending at token past + t sits at padded[past + t + 1 : past + t + 1 + keep]
    win = padded.unfold(2, keep, 1)[:, :, past + 1 : past + 1 + t]  # (B, H, T, E, keep)
    return win.permute(0, 2, 1, 4, 3).reshape(b * t, h, keep, e)
