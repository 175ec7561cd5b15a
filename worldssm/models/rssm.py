"""RSSM (DreamerV3-style): a GRU deterministic state with prior and posterior latents.

h_t = GRU(h_{t-1}, W [z_{t-1}, a_t]) (h_{t-1}, z_{t-1} and a_t zeroed where ``is_first``);
prior p(z_t | h_t); posterior q(z_t | h_t, x_t). Because the posterior needs h_t, ``observe`` loops
over time. Encoder, decoder, heads, latents and losses are shared with S4WM
(:mod:`worldssm.models.world_model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from worldssm.models.world_model import WorldModel, WorldModelConfig


@dataclass
class RSSMConfig(WorldModelConfig):
    """:class:`WorldModelConfig`; ``d_model`` is the GRU state size."""


class LayerNormGRUCell(nn.Module):
    """DreamerV3's GRU: one Linear over [u, h], LayerNorm, update gate biased towards keeping h.

    u (B, D_in), h (B, D) -> h' (B, D).
    """

    def __init__(self, d_in: int, d_model: int):
        super().__init__()
        self.linear = nn.Linear(d_in + d_model, 3 * d_model, bias=False)
        self.norm = nn.LayerNorm(3 * d_model)

    def forward(self, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        parts = self.norm(self.linear(torch.cat([u, h], -1)))
        reset, cand, update = parts.chunk(3, -1)
        reset = torch.sigmoid(reset)
        cand = torch.tanh(reset * cand)
        update = torch.sigmoid(update - 1)  # -1: start out remembering
        return update * cand + (1 - update) * h


class RSSM(WorldModel):
    """Recurrent state-space model (looped ``observe``); core state: h (B, d_model)."""

    parallel = False

    def __init__(self, cfg: RSSMConfig):
        super().__init__(cfg)
        self.gru = LayerNormGRUCell(cfg.d_model, cfg.d_model)

    def _core_initial(self, batch: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch, self.cfg.d_model, device=device, dtype=dtype)

    def _core_step(self, core, u, is_first):
        h_prev = core * (~is_first)[:, None].to(core.dtype)
        h = self.gru(u, h_prev)
        return h, h
