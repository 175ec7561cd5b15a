"""Causal Transformer over frame tokens (the ConvS5 paper's Transformer baseline).

Each frame's features (D, h, w) are average-pooled to a g x g grid and projected to one token.
A causal pre-LN Transformer runs over the frame tokens (sinusoidal positions, so any length);
its output token is projected back to (D, g, g), upsampled to (D, h, w), added to the current
frame's features and decoded. Generation keeps a KV cache: each step attends to all past frames,
so its cost grows with the number of frames generated. :func:`generate_without_cache` is the
generation of the ConvS5 paper's Transformer baseline: every step reruns the Transformer over
all frame tokens so far (no KV cache); it is a timing reference, not the recommended path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from worldssm.models.base import FramePredictor, VideoModelConfig


@dataclass
class FrameTransformerConfig(VideoModelConfig):
    """:class:`VideoModelConfig` plus token and attention sizes."""

    width: int = 512
    heads: int = 8
    token_grid: int = 4
    mlp_ratio: int = 4

    def __post_init__(self):
        super().__post_init__()
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")


@dataclass
class KVCache:
    """Per layer keys and values (B, heads, t, dh); the episode id of each cached frame (B, t);
    the current episode id (B,) and the next position within it (B,)."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    episode: torch.Tensor
    current: torch.Tensor
    position: torch.Tensor


def sinusoid(positions: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal embeddings (*positions.shape, width)."""
    half = width // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device) / half)
    ang = positions.double()[..., None] * freq.double()
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


# cuDNN attention builds an execution plan for every new sequence length: 60-800 ms per
# generated frame on an H100 (KV-cache step 67 ms median against 6.0 ms without it, measured
# with benchmarks/profile_ops.py), and generation meets a new length every step.
ATTENTION_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


class AttentionLayer(nn.Module):
    """Pre-LN block: causal self-attention (masked to the same episode) + MLP. (B, T, E)."""

    def __init__(self, width: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )

    def forward(self, x, mask, past_k=None, past_v=None):
        """x (B, T, E); mask (B, 1, T, T_all) bool or None (plain causal). Returns x, k, v."""
        b, t, e = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, e // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        with sdpa_kernel(ATTENTION_BACKENDS):
            if mask is None:
                att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, e))
        return x + self.mlp(self.norm2(x)), k, v


class FrameTransformer(FramePredictor):
    """Causal frame-token Transformer frame predictor with a KV cache for :meth:`step`."""

    graphable_step = False  # the KV cache grows by one frame per step

    def __init__(self, cfg: FrameTransformerConfig):
        super().__init__(cfg)
        g, d = cfg.token_grid, cfg.d_model
        if cfg.feature_size % g:
            raise ValueError(f"feature size {cfg.feature_size} must be divisible by token_grid {g}")
        self.to_token = nn.Linear(d * g * g, cfg.width)
        self.layers = nn.ModuleList(
            AttentionLayer(cfg.width, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        self.norm = nn.LayerNorm(cfg.width)
        self.from_token = nn.Linear(cfg.width, d * g * g)

    def init_state(self, batch: int, device=None, dtype=torch.float32) -> KVCache:
        n = len(self.layers)
        dh = self.cfg.width // self.cfg.heads
        empty = torch.zeros(batch, self.cfg.heads, 0, dh, device=device, dtype=dtype)
        ep = torch.zeros(batch, 0, device=device, dtype=torch.long)
        cur = torch.zeros(batch, device=device, dtype=torch.long)
        return KVCache([empty] * n, [empty] * n, ep, cur, cur.clone())

    def _tokens(self, feats: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(N, T, D, h, w) features and (N, T) positions -> tokens (N, T, E)."""
        g = self.cfg.token_grid
        n, t = feats.shape[:2]
        pooled = F.adaptive_avg_pool2d(feats.flatten(0, 1), g).reshape(n, t, -1)
        return self.to_token(pooled) + sinusoid(positions, self.cfg.width).to(pooled.dtype)

    def _untoken(self, tokens: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """tokens (N, T, E) + current features (N, T, D, h, w) -> (N, T, D, h, w)."""
        g, d, s = self.cfg.token_grid, self.cfg.d_model, self.cfg.feature_size
        n, t = tokens.shape[:2]
        grid = self.from_token(self.norm(tokens)).reshape(n * t, d, g, g)
        up = F.interpolate(grid, size=(s, s), mode="nearest").unflatten(0, (n, t))
        return feats + up

    def _run(self, x, state: KVCache, episode: torch.Tensor, positions: torch.Tensor):
        """x (B, T, E) tokens of new frames with episode ids and positions (B, T)."""
        all_ep = torch.cat([state.episode, episode], dim=1)
        t, total = x.shape[1], all_ep.shape[1]
        causal = torch.ones(t, total, dtype=torch.bool, device=x.device).tril(total - t)
        mask = (causal[None] & (episode[:, :, None] == all_ep[:, None, :]))[:, None]
        keys, values = [], []
        for layer, pk, pv in zip(self.layers, state.keys, state.values, strict=True):
            x, k, v = layer(x, mask, pk, pv)
            keys.append(k)
            values.append(v)
        new = KVCache(keys, values, all_ep, episode[:, -1], positions[:, -1] + 1)
        return x, new

    @staticmethod
    def _episodes(reset, state: KVCache, bsz: int, t: int, device):
        """Episode ids and positions within the episode, both (B, T)."""
        idx = torch.arange(t, device=device).expand(bsz, t)
        if reset is None:
            return state.current[:, None].expand(bsz, t), state.position[:, None] + idx
        episode = state.current[:, None] + torch.cumsum(reset.long(), dim=1)
        last = torch.where(reset, idx, torch.full_like(idx, -1)).cummax(dim=1).values
        positions = torch.where(last >= 0, idx - last, state.position[:, None] + idx)
        return episode, positions

    def _core(self, feats, reset, state: KVCache):
        bsz, t = feats.shape[:2]
        episode, positions = self._episodes(reset, state, bsz, t, feats.device)
        tokens = self._tokens(feats, positions)
        out, state = self._run(tokens, state, episode, positions)
        return self._untoken(out, feats), state

    def _core_step(self, state: KVCache, feat, reset):
        r = None if reset is None else reset[:, None]
        out, state = self._core(feat[:, None], r, state)
        return out[:, 0], state


@torch.no_grad()
def predict_without_cache(model: FrameTransformer, feats: torch.Tensor) -> torch.Tensor:
    """Next-frame prediction recomputing attention over every frame so far (no KV cache).

    Args:
        model: a :class:`FrameTransformer` without action conditioning.
        feats: (B, T, D, h, w) encoder features of frames 0..T-1 of one episode.

    Returns:
        (B, C, H, W) the prediction of frame T. All T tokens pass through every layer (what the
        KV cache avoids); only the last output token is un-tokened and decoded.
    """
    bsz, t = feats.shape[:2]
    positions = torch.arange(t, device=feats.device).expand(bsz, t)
    x = model._tokens(feats, positions)
    for layer in model.layers:
        x, _, _ = layer(x, None)  # mask None: plain causal attention over one episode
    return model._decode(model._untoken(x[:, -1:], feats[:, -1:])[:, 0])


@torch.no_grad()
def generate_without_cache(model: FrameTransformer, context: torch.Tensor, horizon: int):
    """:func:`worldssm.train.generate.generate` without the KV cache (the paper's baseline).

    context (B, K, C, H, W) -> (B, N, C, H, W) predictions, N = ``horizon``. Frame features are
    encoded once per frame (the encoder is per-frame), attention is recomputed every step.
    """
    if model.action_embed is not None:
        raise ValueError("generate_without_cache supports models without actions only")
    bsz, k = context.shape[:2]
    first = model._encode(context.flatten(0, 1), None).unflatten(0, (bsz, k))
    feats = first.new_empty((bsz, k + horizon - 1, *first.shape[2:]))
    feats[:, :k] = first
    out = []
    for i in range(horizon):
        pred = predict_without_cache(model, feats[:, : k + i])
        out.append(pred)
        if i + 1 < horizon:
            feats[:, k + i] = model._encode(pred, None)
    return torch.stack(out, dim=1)
