"""VFIMamba feature extractor: conv stages at 1, 1/2, 1/4 and Mixed-SSM stages at 1/8, 1/16.

Both frames run through one shared extractor as a stacked batch (2B, C, H, W): frame 0 of every
sample first, then frame 1. The Mixed-SSM blocks are where the frames meet: their tokens are
interleaved one by one into a 2·h·w sequence and scanned in four directions (:class:`SS2D`), so
every token sees both frames. With ``mixer="conv"`` the scan is replaced by a local conv mixer that
also sees both frames (the conv-only baseline of the same width and depth).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.layers.ss2d import SS2D


def conv_prelu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + PReLU: (N, c_in, H, W) -> (N, c_out, H/stride, W/stride)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.PReLU(c_out))


class ChannelAttentionBlock(nn.Module):
    """RCAN-style conv block: 3x3 conv (C -> C/3), GELU, 3x3 conv back, squeeze-excite gate.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, compress: int = 3, squeeze: int = 30):
        super().__init__()
        mid, sq = max(1, channels // compress), max(1, channels // squeeze)
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 3, 1, 1), nn.GELU(), nn.Conv2d(mid, channels, 3, 1, 1)
        )
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, sq, 1),
            # GELU, not RCAN's ReLU: with only C/30 squeeze units and one pooled value per
            # image, a ReLU unit can start dead and never get a gradient.
            nn.GELU(),
            nn.Conv2d(sq, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y * self.gate(y)


class ConvPairMixer(nn.Module):
    """The conv-only stand-in for SS2D: each frame's tokens mixed with the other frame's, locally.

    1x1 in-proj of [self, other] (2C -> D), depthwise 3x3, GELU, 1x1 out-proj (D -> C) with
    D = expand·C: about the parameters and width of :class:`SS2D`, but a 3x3 receptive field
    instead of a global scan.

    Shapes: (B, 2, H, W, C) -> (B, 2, H, W, C).
    """

    def __init__(self, dim: int, expand: float = 2.0):
        super().__init__()
        d = int(expand * dim)
        self.inp = nn.Conv2d(2 * dim, d, 1)
        self.dw = nn.Conv2d(d, d, 3, padding=1, groups=d)
        self.out = nn.Conv2d(d, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bsz, frames, h, w, c = x.shape
        # Work frame-major, (T, B, H, W, C): the order the Mixed-SSM block's tokens are stored in,
        # so the concat is the only copy and the 1x1/3x3 convs see NHWC (channels_last) tensors.
        xf = x.transpose(0, 1)
        pair = torch.cat([xf, xf.flip(0)], dim=-1)  # frame f sees [f, other]
        pair = pair.view(frames * bsz, h, w, 2 * c).permute(0, 3, 1, 2)
        y = self.out(F.gelu(self.dw(self.inp(pair))))  # (T*B, C, H, W)
        return y.permute(0, 2, 3, 1).reshape(frames, bsz, h, w, c).transpose(0, 1)


class MixedSSMBlock(nn.Module):
    """Mixed-SSM block: x += mixer(LN(x)) over the interleaved pair; x += CAB(LN(x)).

    Residuals are scaled by learnable per-channel factors (initialised to 1), as in VFIMamba.

    Args:
        dim: C. mixer: ``"ssm"`` (SS2D over the 2·h·w interleaved tokens) or ``"conv"``.

    Shapes: (2B, C, h, w) stacked frames [frame 0 batch; frame 1 batch] -> same.
    """

    def __init__(self, dim: int, mixer: str = "ssm", d_state: int = 16, expand: float = 2.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        if mixer == "ssm":
            self.mixer = SS2D(dim, d_state=d_state, expand=expand)
        elif mixer == "conv":
            self.mixer = ConvPairMixer(dim, expand=expand)
        else:
            raise ValueError(f"mixer must be 'ssm' or 'conv'; got {mixer!r}")
        self.skip1 = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim)
        self.cab = ChannelAttentionBlock(dim)
        self.skip2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n2, c, h, w = x.shape
        # Tokens (2B, h, w, C): a free view of a channels_last x (the prepared model), one copy
        # of a contiguous one. Frame-major storage, so the pair (B, 2, h, w, C) handed to the
        # mixer is a transposed view, and LayerNorm and the residuals run on dense tensors.
        t = x.permute(0, 2, 3, 1)
        t = t if t.is_contiguous() else t.contiguous()
        pair = self.norm1(t).view(2, n2 // 2, h, w, c).transpose(0, 1)
        mixed = self.mixer(pair).transpose(0, 1).reshape(n2, h, w, c)
        t = torch.addcmul(mixed, t, self.skip1)  # x * skip1 + mixer(...), one kernel
        y = self.cab(self.norm2(t).permute(0, 3, 1, 2))  # NCHW view of NHWC memory
        t = torch.addcmul(y.permute(0, 2, 3, 1), t, self.skip2)
        return t.permute(0, 3, 1, 2)  # (2B, C, h, w), channels_last memory


class PatchMerge(nn.Module):
    """Downsample into an SSM stage: LayerNorm over channels, then a 3x3 stride-2 conv.

    Shapes: (N, c_in, H, W) -> (N, c_out, H/2, W/2).
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.norm = nn.LayerNorm(c_in)
        self.proj = nn.Conv2d(c_in, c_out, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


class FeatureExtractor(nn.Module):
    """Shared 5-stage extractor; stage i has ``widths[i]`` channels at 1/2**i resolution.

    Stages 0-2: (stride-2 conv + PReLU, except stage 0) then ``depths[i]`` conv+PReLU layers.
    Stages 3-4: :class:`PatchMerge` then ``depths[i]`` :class:`MixedSSMBlock`.

    Args:
        widths: 5 channel counts (F, 2F, 4F, 8F, 16F in VFIMamba); depths: 5 block counts.

    Shapes: (2B, 3, H, W) stacked frames -> list of 5 tensors (2B, widths[i], H/2**i, W/2**i).
    """

    def __init__(
        self,
        widths: tuple[int, ...],
        depths: tuple[int, ...],
        mixer: str = "ssm",
        d_state: int = 16,
        expand: float = 2.0,
        conv_stages: int = 3,
    ):
        super().__init__()
        self.stages = nn.ModuleList()
        c_prev = 3
        for i, (c, depth) in enumerate(zip(widths, depths, strict=True)):
            if i < conv_stages:
                layers = [] if i == 0 else [conv_prelu(c_prev, c, stride=2)]
                c_in = c_prev if i == 0 else c
                for j in range(depth):
                    layers.append(conv_prelu(c_in if j == 0 else c, c))
                if i == 0 and depth == 0:
                    layers.append(conv_prelu(c_prev, c))
            else:
                layers = [PatchMerge(c_prev, c)]
                layers += [MixedSSMBlock(c, mixer, d_state, expand) for _ in range(depth)]
            self.stages.append(nn.Sequential(*layers))
            c_prev = c

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # Frames come in as float32 images; a model prepared in bf16 (no autocast) needs them in
        # its weights' dtype. Under autocast the weights are float32 and this is a no-op.
        x = x.to(self.stages[0][0][0].weight.dtype)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
