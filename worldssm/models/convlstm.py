"""ConvLSTM baseline (the ConvS5 paper's): same encoder/decoder, a stack of residual ConvLSTM cells.

The recurrence is nonlinear, so training loops over time (no parallel scan). Its autograd graph
holds every gate of every layer and frame (about 15 MB per layer-frame at batch 8, 256 x 16 x 16
in bf16: 36 GB for 8 layers x 300 frames), so ``checkpoint_layers`` recomputes the core in
chunks of ``ConvLSTMVideo.checkpoint_chunk`` frames (all layers of a chunk together): only the
states at chunk boundaries and the core's outputs are kept, and the backward pass holds one
chunk at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

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
    """ConvLSTM frame predictor: x_{l+1} = x_l + h_l at every step.

    ``checkpoint_chunk``: frames per recomputed chunk when ``cfg.checkpoint_layers`` is set (a
    memory/recompute trade-off, not a model setting: one chunk's gates are held in backward).
    """

    checkpoint_chunk = 16

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

    def _run(self, feats, reset, state: ConvLSTMState):
        """Loop over the frames of feats (B, t, D, h, w) -> outputs (B, t, D, h, w), state."""
        outs = []
        for t in range(feats.shape[1]):
            r = None if reset is None else reset[:, t]
            out, state = self._core_step(state, feats[:, t], r)
            outs.append(out)
        return torch.stack(outs, dim=1), state

    def _core(self, feats, reset, state: ConvLSTMState):
        if not (self.cfg.checkpoint_layers and self.training and torch.is_grad_enabled()):
            return self._run(feats, reset, state)
        outs, n = [], self.checkpoint_chunk
        for t0 in range(0, feats.shape[1], n):
            r = None if reset is None else reset[:, t0 : t0 + n]
            out, state = checkpoint(self._run, feats[:, t0 : t0 + n], r, state, use_reentrant=False)
            outs.append(out)
        return torch.cat(outs, dim=1), state
