"""ConvLSTM baseline (the ConvS5 paper's): same encoder/decoder, a stack of residual ConvLSTM cells.

The recurrence is nonlinear, so training loops over time (no parallel scan).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from worldssm.layers.convlstm import ConvLSTMCell
from worldssm.models.base import FramePredictor, VideoModelConfig


@dataclass
class ConvLSTMVideoConfig(VideoModelConfig):
    """:class:`VideoModelConfig` plus the ConvLSTM kernel size."""

    kernel_size: int = 3


@dataclass
class ConvLSTMState:
    """(h, c) per layer, each (B, D, h, w)."""

    h: list[torch.Tensor]
    c: list[torch.Tensor]


class ConvLSTMVideo(FramePredictor):
    """ConvLSTM frame predictor: x_{l+1} = x_l + h_l at every step."""

    def __init__(self, cfg: ConvLSTMVideoConfig):
        super().__init__(cfg)
        d = cfg.d_model
        self.cells = nn.ModuleList(
            ConvLSTMCell(d, d, cfg.kernel_size) for _ in range(cfg.num_layers)
        )

    def init_state(self, batch: int, device=None, dtype=torch.float32) -> ConvLSTMState:
        s, d = self.cfg.feature_size, self.cfg.d_model
        z = [torch.zeros(batch, d, s, s, device=device, dtype=dtype) for _ in self.cells]
        return ConvLSTMState(list(z), [t.clone() for t in z])

    def _core_step(self, state: ConvLSTMState, feat, reset):
        hs, cs, x = [], [], feat
        for cell, h, c in zip(self.cells, state.h, state.c, strict=True):
            if reset is not None:
                keep = (~reset).to(h.dtype)[:, None, None, None]
                h, c = h * keep, c * keep
            h, c = cell(x, h, c)
            x = x + h
            hs.append(h)
            cs.append(c)
        return x, ConvLSTMState(hs, cs)

    def _core(self, feats, reset, state: ConvLSTMState):
        outs = []
        for t in range(feats.shape[1]):
            r = None if reset is None else reset[:, t]
            out, state = self._core_step(state, feats[:, t], r)
            outs.append(out)
        return torch.stack(outs, dim=1), state
