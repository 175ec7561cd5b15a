"""The ConvS5 video model of Smith et al. 2023: ResNet encoder -> ConvS5 blocks -> ResNet decoder.

Each block: ConvS5 -> ResNet block, residual, post-LayerNorm over channels. Training and
context encoding run in parallel over time (one scan per layer); generation steps the
recurrence with O(1) memory per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from worldssm.layers.convs5 import ConvS5, ConvS5State
from worldssm.layers.resnet import ChannelLayerNorm, ResBlock
from worldssm.layers.ssm_init import SSMConfig
from worldssm.models.base import FramePredictor, VideoModelConfig


@dataclass
class ConvS5VideoConfig(VideoModelConfig):
    """:class:`VideoModelConfig` plus the ConvS5 layer settings (see :class:`SSMConfig`)."""

    state_size: int = 256
    ssm_blocks: int = 1
    conj_sym: bool = True
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    discretization: str = "zoh"
    clip_eigs: bool = False
    kernel_size: int = 3

    def ssm(self) -> SSMConfig:
        return SSMConfig(
            state_size=self.state_size,
            blocks=self.ssm_blocks,
            conj_sym=self.conj_sym,
            dt_min=self.dt_min,
            dt_max=self.dt_max,
            discretization=self.discretization,
            clip_eigs=self.clip_eigs,
            kernel_size=self.kernel_size,
        )


@dataclass
class ConvS5VideoState:
    """One :class:`ConvS5State` per block."""

    layers: list[ConvS5State]


class ConvS5Block(nn.Module):
    """ConvS5 -> ResBlock, residual, post-LayerNorm. (B, T, D, h, w) -> (B, T, D, h, w)."""

    def __init__(self, d_model: int, cfg: SSMConfig):
        super().__init__()
        self.ssm = ConvS5(d_model, cfg)
        self.res = ResBlock(d_model)
        self.norm = ChannelLayerNorm(d_model)

    def forward(self, u, state: ConvS5State, reset=None):
        y, state = self.ssm(u, state=state, reset=reset, return_state=True)
        y = self.res(y.flatten(0, 1)).unflatten(0, u.shape[:2])
        return self.norm(u + y), state

    def step(self, state: ConvS5State, u_t, reset_t=None):
        y, state = self.ssm.step(state, u_t, reset_t)
        return self.norm(u_t + self.res(y)), state


class ConvS5Video(FramePredictor):
    """ConvS5 frame predictor; see :mod:`worldssm.models.base` for the forward/step contract."""

    def __init__(self, cfg: ConvS5VideoConfig):
        super().__init__(cfg)
        self.blocks = nn.ModuleList(
            ConvS5Block(cfg.d_model, cfg.ssm()) for _ in range(cfg.num_layers)
        )

    def init_state(self, batch: int, device=None, dtype=torch.float32) -> ConvS5VideoState:
        s = self.cfg.feature_size
        return ConvS5VideoState([b.ssm.init_state(batch, s, s, device, dtype) for b in self.blocks])

    def _core(self, feats, reset, state: ConvS5VideoState):
        x, new = feats, []
        for block, st in zip(self.blocks, state.layers, strict=True):
            if self.cfg.checkpoint_layers and self.training:
                x, st = checkpoint(block, x, st, reset, use_reentrant=False)
            else:
                x, st = block(x, st, reset)
            new.append(st)
        return x, ConvS5VideoState(new)

    def _core_step(self, state: ConvS5VideoState, feat, reset):
        x, new = feat, []
        for block, st in zip(self.blocks, state.layers, strict=True):
            x, st = block.step(st, x, reset)
            new.append(st)
        return x, ConvS5VideoState(new)
