"""ConvLSTM cell (Shi et al. 2015): LSTM gates computed by a k x k conv over [x_t, h_{t-1}]."""

from __future__ import annotations

import torch
from torch import nn


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: x (B, C_in, H, W), (h, c) each (B, C_h, H, W) -> new (h, c)."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3):
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(
            in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2
        )

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        i, f, g, o = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
