"""ResNet pieces shared by the video models: residual blocks, frame encoder and decoder.

Encoders map frames (N, C, H, W) to features (N, D, H/s, W/s); decoders map them back. Video
models fold time into the batch: (B, T, ...) -> (B*T, ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups that divide ``channels``."""
    return nn.GroupNorm(math.gcd(channels, 8), channels)


class ResBlock(nn.Module):
    """(GroupNorm, GELU, 3x3 conv) twice, plus a (1x1 when channels change) skip.

    Shapes: (N, c_in, H, W) -> (N, c_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int | None = None):
        super().__init__()
        c_out = c_out or c_in
        self.norm1 = group_norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = group_norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.gelu(self.norm1(x)))
        h = self.conv2(F.gelu(self.norm2(h)))
        return self.skip(x) + h


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel dim of (..., C, H, W) tensors."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(-3, -1)).movedim(-1, -3)


class FrameEncoder(nn.Module):
    """Frames (N, in_channels, H, W) -> features (N, channels[-1], H / 2^(S-1), W / 2^(S-1)).

    Args:
        in_channels: image channels (1 for digits, 3 for RGB).
        channels: widths of the S stages; each stage but the last ends with a stride-2 conv.
        blocks: residual blocks per stage.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], blocks: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 3, padding=1)]
        for i, c in enumerate(channels):
            c_prev = channels[max(i - 1, 0)]
            layers += [ResBlock(c_prev if j == 0 else c, c) for j in range(blocks)]
            if i < len(channels) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.net = nn.Sequential(*layers)
        self.downsample = 2 ** (len(channels) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FrameDecoder(nn.Module):
    """Features (N, channels[-1], h, w) -> frame logits (N, out_channels, h·2^(S-1), w·2^(S-1)).

    Mirrors :class:`FrameEncoder` (nearest upsampling + 3x3 conv between stages).
    """

    def __init__(self, out_channels: int, channels: tuple[int, ...], blocks: int = 1):
        super().__init__()
        rev = tuple(reversed(channels))
        layers: list[nn.Module] = []
        for i, c in enumerate(rev):
            c_prev = rev[max(i - 1, 0)]
            layers += [ResBlock(c_prev if j == 0 else c, c) for j in range(blocks)]
            if i < len(rev) - 1:
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c, c, 3, padding=1),
                ]
        layers += [group_norm(rev[-1]), nn.GELU(), nn.Conv2d(rev[-1], out_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
