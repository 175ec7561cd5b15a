"""Networks shared by the world models: MLPs, the observation encoder and the frame decoder.

The encoder maps frames (B, T, C, H, W) to one embedding vector per frame (B, T, E); the decoder
maps model features (B, [T,] F) back to frames in [0, 1]. Both reuse the ResNet stages of
:mod:`worldssm.layers.resnet` and fold time into the batch.
"""

from __future__ import annotations

import torch
from torch import nn

from worldssm.layers.resnet import FrameDecoder, FrameEncoder


def mlp(d_in: int, hidden: int, d_out: int, layers: int) -> nn.Sequential:
    """``layers`` x (Linear -> LayerNorm -> SiLU), then a Linear to ``d_out``: (..., d_in) -> (...,
    d_out)."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.LayerNorm(hidden), nn.SiLU()]
    mods.append(nn.Linear(hidden if layers else d_in, d_out))
    return nn.Sequential(*mods)


class ObsEncoder(nn.Module):
    """Frames (..., C, H, W) in [0, 1] -> embeddings (..., E).

    ResNet stages down to a (channels[-1], g, g) grid, flattened, then Linear -> LayerNorm -> SiLU.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        channels: tuple[int, ...],
        blocks: int,
        embed_dim: int,
    ):
        super().__init__()
        self.conv = FrameEncoder(in_channels, channels, blocks)
        grid = image_size // self.conv.downsample
        self.proj = nn.Sequential(
            nn.Linear(channels[-1] * grid * grid, embed_dim), nn.LayerNorm(embed_dim), nn.SiLU()
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        lead = frames.shape[:-3]
        x = self.conv(frames.reshape(-1, *frames.shape[-3:]) - 0.5)  # centre the pixels
        return self.proj(x.flatten(1)).reshape(*lead, -1)


class ObsDecoder(nn.Module):
    """Features (..., F) -> frames (..., C, H, W) in [0, 1] (the mean of a unit Gaussian).

    Linear to a (channels[-1], g, g) grid, then the mirrored ResNet stages and a sigmoid.
    """

    def __init__(
        self,
        feat_dim: int,
        out_channels: int,
        image_size: int,
        channels: tuple[int, ...],
        blocks: int,
    ):
        super().__init__()
        self.grid = image_size // 2 ** (len(channels) - 1)
        self.width = channels[-1]
        self.proj = nn.Linear(feat_dim, self.width * self.grid * self.grid)
        self.conv = FrameDecoder(out_channels, channels, blocks)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.proj(feat.reshape(-1, feat.shape[-1]))
        x = self.conv(x.view(-1, self.width, self.grid, self.grid))
        return torch.sigmoid(x).reshape(*lead, *x.shape[1:])
