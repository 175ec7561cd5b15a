"""VFIMamba flow side: backward warping, coarse-to-fine flow heads, local refinement, U-Net.

Flows are in pixels of the frame they are defined on. ``flow[:, 0:2]`` points from the wanted
frame at time t to frame 0 and ``flow[:, 2:4]`` from t to frame 1 (x then y), so frame k is
brought to time t by :func:`backward_warp`. Masks are logits; sigmoid(mask) is the weight of the
warped frame 0 in the blend.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.models.vfi_blocks import conv_prelu


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` at x + flow(x) (bilinear, border padding).

    Args:
        img: (N, C, H, W); flow: (N, 2, H, W) in pixels, channel 0 along W (x), 1 along H (y).

    Returns:
        (N, C, H, W): out[..., y, x] = img[..., y + flow_y, x + flow_x]. A zero flow returns
        ``img``; an integer flow shifts it exactly (align_corners=True keeps pixel centres on
        the sampling grid).
    """
    if img.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"backward_warp expects img (N, C, H, W) and flow (N, 2, H, W); got "
            f"{tuple(img.shape)} and {tuple(flow.shape)}"
        )
    if img.shape[0] != flow.shape[0] or img.shape[-2:] != flow.shape[-2:]:
        raise ValueError(
            f"img {tuple(img.shape)} and flow {tuple(flow.shape)} differ in batch or size"
        )
    n, _, h, w = img.shape
    flow = flow.float()
    # Pixel coordinates -> [-1, 1] with align_corners=True: -1 and 1 are the corner pixel centres,
    # so pixel x sits at linspace(-1, 1, W)[x] and a flow of f pixels adds f * 2 / (W - 1).
    # One fused add per axis (a warp runs ~10 times per forward at full size).
    xs = torch.linspace(-1, 1, w, device=img.device) if w > 1 else img.new_full((1,), -1.0)
    ys = torch.linspace(-1, 1, h, device=img.device) if h > 1 else img.new_full((1,), -1.0)
    gx = torch.add(xs.float()[None, None, :], flow[:, 0], alpha=2 / max(w - 1, 1))
    gy = torch.add(ys.float()[None, :, None], flow[:, 1], alpha=2 / max(h - 1, 1))
    grid = torch.stack([gx, gy], dim=-1)
    # Sample in float32: a bf16 grid would put points up to W/256 pixels off.
    out = F.grid_sample(
        img.float(), grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out.to(img.dtype)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size``; a no-op at the same size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (N, 2k, H, W) flow and rescale its vectors to the new pixel size."""
    if tuple(flow.shape[-2:]) == tuple(size):
        return flow
    sx, sy = size[1] / flow.shape[-1], size[0] / flow.shape[-2]
    out = resize(flow, size)
    if sx == sy:  # the usual case (power-of-two pyramids): one scalar multiply
        return out * sx
    # Python scalars, not a device tensor: no host-to-device copy (CUDA-graph safe).
    xy = out.unflatten(1, (-1, 2))
    return torch.stack([xy[:, :, 0] * sx, xy[:, :, 1] * sy], 2).flatten(1, 2)


def warp_pair(frames: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp both frames of stacked pairs to time t in one :func:`backward_warp` call.

    Args:
        frames: (2B, C, H, W), frame 0 of every sample first, then frame 1 (the encoder's
            stacking). flow: (B, 4, H, W), t->0 then t->1.

    Returns:
        (2B, C, H, W): rows :B are frame 0 warped by ``flow[:, 0:2]``, rows B: frame 1 by
        ``flow[:, 2:4]`` (the same as two calls; grid_sample treats samples independently).
    """
    bsz = flow.shape[0]
    stacked = flow.unflatten(1, (2, 2)).transpose(0, 1).reshape(2 * bsz, 2, *flow.shape[-2:])
    return backward_warp(frames, stacked)


def cat_channels(
    tensors: list[torch.Tensor], dtype: torch.dtype, channels_last: bool = False
) -> torch.Tensor:
    """``torch.cat`` of (N, C_i, H, W) tensors along channels, cast to ``dtype``.

    With ``channels_last`` the result is written straight into NHWC memory: torch.cat of mixed
    memory formats returns NCHW, which a channels_last conv would then copy once more.
    """
    same = all(t.dtype == dtype for t in tensors)
    if not channels_last or (
        same and all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors)
    ):
        # NHWC inputs (e.g. a decoder level and its skip): torch.cat keeps channels_last.
        return torch.cat([t.to(dtype) for t in tensors], 1)
    n, _, h, w = tensors[0].shape
    c = sum(t.shape[1] for t in tensors)
    out = torch.empty(n, h, w, c, dtype=dtype, device=tensors[0].device).permute(0, 3, 1, 2)
    lo = 0
    for t in tensors:
        out[:, lo : lo + t.shape[1]].copy_(t)
        lo += t.shape[1]
    return out


class FlowHead(nn.Module):
    """One coarse-to-fine step: features of both frames at 1/scale -> flow and mask at full size.

    Both frames' features (2 x (B, C, H/s, W/s)) are pixel-shuffled by 4 to (B, 2C/16, 4H/s,
    4W/s) (frame 0's channels first), the image inputs are resized to that grid, three 3x3 convs
    predict 4 flow + 1 mask channels, and the result is upsampled to (H, W).

    Args:
        feat_channels: C per frame (2C divisible by 16); scale: s; hidden: conv width;
        in_extra: channels of the image inputs (7 for img0, img1, t; 14 + 4 with the previous
        warps, mask and flow).
    """

    def __init__(self, feat_channels: int, scale: int, hidden: int, in_extra: int):
        super().__init__()
        if (2 * feat_channels) % 16:
            raise ValueError(f"2 * feat_channels must be divisible by 16; got {feat_channels}")
        self.scale = scale
        self.convs = nn.Sequential(
            conv_prelu(2 * feat_channels // 16 + in_extra, hidden),
            conv_prelu(hidden, hidden),
            nn.Conv2d(hidden, 5, 3, 1, 1),
        )

    def forward(
        self,
        feats: torch.Tensor,
        inputs: list[torch.Tensor],
        flow: torch.Tensor | None,
        channels_last: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (2B, C, h, w) stacked [frame 0; frame 1]; inputs: (B, C_j, H, W) tensors with
        in_extra - 4|0 channels in all (each resized to the head's grid, then concatenated: no
        full-size concatenation); flow (B, 4, H, W) or None; ``channels_last``: build the conv
        input in NHWC memory.

        Returns the flow (B, 4, H, W) and mask logits (B, 1, H, W) of this head (increments
        when ``flow`` is given).
        """
        bsz, c = inputs[0].shape[0], feats.shape[1]
        full = tuple(inputs[0].shape[-2:])
        if c % 16 == 0:
            # pixel_shuffle(cat(f0, f1)) == cat(pixel_shuffle(f0), pixel_shuffle(f1)) when each
            # frame's C is a multiple of 16: one shuffle of the stack, no pair concatenation.
            m = F.pixel_shuffle(feats, 4)
            parts = [m[:bsz], m[bsz:]]
        else:
            parts = [F.pixel_shuffle(torch.cat([feats[:bsz], feats[bsz:]], 1), 4)]
        work = tuple(parts[0].shape[-2:])
        parts += [resize(x, work) for x in inputs]
        if flow is not None:
            parts.append(resize_flow(flow, work))
        x = cat_channels(parts, feats.dtype, channels_last)
        # Flow and mask leave the head in float32 (they are accumulated and scaled to pixels).
        y = self.convs(x).float()
        return resize_flow(y[:, :4], full), resize(y[:, 4:5], full)


class LocalRefineBlock(nn.Module):
    """RIFE-style local flow refinement at 1/scale: (img0, img1, warps, mask, flow) -> increments.

    Two stride-2 convs, ``depth`` residual 3x3 convs, a transposed conv, upsampled to (H, W).

    Shapes: inputs (B, 13, H, W) (as a list of tensors) and flow (B, 4, H, W) -> flow
    (B, 4, H, W), mask (B, 1, H, W).
    """

    def __init__(self, hidden: int, scale: int, depth: int = 8):
        super().__init__()
        self.scale = scale
        self.down = nn.Sequential(
            conv_prelu(17, hidden // 2, stride=2), conv_prelu(hidden // 2, hidden, stride=2)
        )
        self.body = nn.Sequential(*[conv_prelu(hidden, hidden) for _ in range(depth)])
        self.up = nn.ConvTranspose2d(hidden, 5, 4, 2, 1)

    def forward(
        self, inputs: list[torch.Tensor], flow: torch.Tensor, channels_last: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs: (B, C_j, H, W) tensors, 13 channels in all; flow (B, 4, H, W)."""
        full = tuple(inputs[0].shape[-2:])
        small = (full[0] // self.scale, full[1] // self.scale)
        parts = [resize(x, small) for x in inputs] + [resize_flow(flow, small)]
        # The weights' dtype: bf16 in a prepared model (no autocast), else a no-op cast.
        x = self.down(cat_channels(parts, self.up.weight.dtype, channels_last))
        y = self.up(self.body(x) + x).float()
        return resize_flow(y[:, :4], full), resize(y[:, 4:5], full)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(conv_prelu(c_in, c_out, stride=2), conv_prelu(c_out, c_out))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.PReLU(c_out))


class RefineUNet(nn.Module):
    """U-Net predicting a residual in [-1, 1] from the warps and both frames' warped features.

    Encoder level i (i = 0..3, at 1/2**(i+1)) takes the previous level and the warped features
    of both frames at 1/2**i; the bottleneck adds the 1/16 features; the decoder has skips.

    Args:
        feat_widths: channels of the 5 feature levels; c: base width (2F in VFIMamba).

    Shapes: inputs a list of (B, C_j, H, W) with 17 channels in all (img0, img1, warp0, warp1,
    mask, flow; concatenated inside, so no separate 17-channel copy is made), warped features
    two lists of 5 (B, feat_widths[i], H/2**i, W/2**i) -> residual (B, 3, H, W).
    """

    def __init__(self, feat_widths: tuple[int, ...], c: int):
        super().__init__()
        fw = feat_widths
        self.down = nn.ModuleList(
            [
                _down(17 + 2 * fw[0], 2 * c),
                _down(2 * c + 2 * fw[1], 4 * c),
                _down(4 * c + 2 * fw[2], 8 * c),
                _down(8 * c + 2 * fw[3], 16 * c),
            ]
        )
        self.up = nn.ModuleList(
            [_up(16 * c + 2 * fw[4], 8 * c), _up(16 * c, 4 * c), _up(8 * c, 2 * c), _up(4 * c, c)]
        )
        self.out = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(
        self,
        inputs: list[torch.Tensor],
        c0: list[torch.Tensor],
        c1: list[torch.Tensor],
        channels_last: bool = False,
    ) -> torch.Tensor:
        dtype = c0[0].dtype
        x = cat_channels([*inputs, c0[0], c1[0]], dtype, channels_last)
        skips = []
        for i, down in enumerate(self.down):
            x = down(x if i == 0 else cat_channels([x, c0[i], c1[i]], dtype, channels_last))
            skips.append(x)
        x = self.up[0](cat_channels([x, c0[4], c1[4]], dtype, channels_last))
        for up, skip in zip(self.up[1:], reversed(skips[:-1]), strict=True):
            x = up(cat_channels([x, skip], dtype, channels_last))
        return torch.sigmoid(self.out(x)) * 2 - 1


def warp_features(
    feats: list[torch.Tensor], flow: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Warp each level of the stacked (2B, C, h, w) features to time t (one warp per level).

    Returns the warped frame-0 and frame-1 features, two lists of (B, C_i, h_i, w_i) (views of
    one (2B, C_i, h_i, w_i) tensor per level).
    """
    bsz = flow.shape[0]
    c0, c1 = [], []
    for f in feats:
        warped = warp_pair(f, resize_flow(flow, tuple(f.shape[-2:])))
        c0.append(warped[:bsz])
        c1.append(warped[bsz:])
    return c0, c1
