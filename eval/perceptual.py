"""LPIPS (Zhang et al. 2018) with the AlexNet backbone and the v0.1 linear heads.

The linear heads are the file ``weights/v0.1/alex.pth`` shipped inside the ``lpips`` pip package;
the backbone is torchvision's AlexNet (see :mod:`worldssm.eval.weights` for where it is searched).
The computation matches ``lpips.LPIPS(net="alex", version="0.1")``: inputs in ``[-1, 1]``, a fixed
scaling layer, the five ReLU outputs of AlexNet, channel-wise unit normalisation, squared
differences weighted by the heads, spatial mean, sum over layers.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from worldssm.eval._inputs import check_pair, to_pm1
from worldssm.eval.weights import find_alexnet_weights, load_alexnet_features

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)
MIN_SIZE = 31  # smaller frames vanish in AlexNet's second max-pool


def lpips_heads_path() -> Path:
    """Path of the v0.1 AlexNet linear heads inside the installed ``lpips`` package."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "LPIPS needs the linear heads of the 'lpips' package: pip install lpips"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "alex.pth"
    if not path.is_file():
        raise FileNotFoundError(f"the lpips package has no {path}; reinstall it: pip install lpips")
    return path


class AlexNetLPIPS(nn.Module):
    """LPIPS network: AlexNet convs (torchvision layout ``features.<i>``) and 5 linear heads.

    Build it with :meth:`pretrained` (real weights) or construct it directly (random backbone, for
    plumbing tests). ``forward(x, y)`` takes images ``(N, 3, H, W)`` in ``[-1, 1]`` and returns
    distances ``(N,)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.heads = nn.ParameterList(
            [nn.Parameter(torch.full((1, c, 1, 1), 1.0 / c)) for c in CHANNELS]
        )
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def pretrained(
        cls,
        alexnet_weights: str | os.PathLike | None = None,
        heads: str | os.PathLike | None = None,
    ) -> AlexNetLPIPS:
        """The real LPIPS-Alex v0.1: AlexNet from :func:`find_alexnet_weights`, heads from the
        ``lpips`` package. Raises :class:`~worldssm.eval.weights.WeightsNotFoundError` naming the
        missing file when the AlexNet weights are absent."""
        model = cls()
        model.load_backbone(load_alexnet_features(find_alexnet_weights(alexnet_weights)))
        model.load_heads(heads if heads is not None else lpips_heads_path())
        return model

    def load_backbone(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load AlexNet convs from a state dict with keys ``features.<i>.{weight,bias}``."""
        sd = {k: v for k, v in state_dict.items() if k.startswith("features.")}
        self.load_state_dict(sd, strict=False)
        missing = [k for k in self.state_dict() if k.startswith("features.") and k not in sd]
        if missing:
            raise ValueError(f"AlexNet state dict lacks {missing}")

    def load_heads(self, path: str | os.PathLike) -> None:
        """Load the linear heads from lpips' ``v0.1/alex.pth`` (keys ``lin<i>.model.1.weight``)."""
        sd = torch.load(path, map_location="cpu", weights_only=True)
        with torch.no_grad():
            for i, head in enumerate(self.heads):
                head.copy_(sd[f"lin{i}.model.1.weight"])

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU outputs of AlexNet for images ``(N, 3, H, W)`` in ``[-1, 1]``."""
        x = (x - self.shift) / self.scale
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (1, 4, 7, 9, 11):
                outs.append(x)
        return outs

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dist = 0.0
        for fx, fy, w in zip(self.layer_outputs(x), self.layer_outputs(y), self.heads, strict=True):
            fx = fx / (fx.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            fy = fy / (fy.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            dist = dist + F.conv2d((fx - fy).square(), w).mean(dim=(1, 2, 3))
        return dist


_CACHE: dict[tuple, AlexNetLPIPS] = {}


def get_lpips_model(
    alexnet_weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> AlexNetLPIPS:
    """A cached :meth:`AlexNetLPIPS.pretrained` on ``device``."""
    path = find_alexnet_weights(alexnet_weights)
    key = (str(path), str(torch.device(device)))
    if key not in _CACHE:
        _CACHE[key] = AlexNetLPIPS.pretrained(path).to(device)
    return _CACHE[key]


@torch.no_grad()
def lpips(
    preds: torch.Tensor,
    target: torch.Tensor,
    data_range: float | None = None,
    model: AlexNetLPIPS | None = None,
    alexnet_weights: str | os.PathLike | None = None,
    batch_frames: int = 64,
) -> torch.Tensor:
    """LPIPS-Alex v0.1 distance per frame (lower is more similar).

    Args:
        preds, target: frames ``(..., C, H, W)`` with C = 3 (or 1: grey is repeated to RGB),
            ``uint8`` or float with ``data_range`` (``1.0`` or ``255.0``).
        data_range: value of white for float frames; ``None`` for uint8.
        model: an :class:`AlexNetLPIPS` (e.g. on a GPU, or random for tests); by default the real
            weights on the device of ``preds``.
        alexnet_weights: path of the AlexNet weights (default: searched, see
            :mod:`worldssm.eval.weights`).
        batch_frames: frames per forward pass.

    Returns:
        float32 tensor of shape ``(...)`` on the device of ``preds``.
    """
    check_pair(preds, target)
    if min(preds.shape[-2:]) < MIN_SIZE:
        raise ValueError(
            f"LPIPS (AlexNet) needs frames of at least {MIN_SIZE}x{MIN_SIZE}, got "
            f"{tuple(preds.shape[-2:])}"
        )
    if model is None:
        model = get_lpips_model(alexnet_weights, preds.device)
    device = next(model.parameters()).device
    lead = preds.shape[:-3]
    p_all = preds.reshape(-1, *preds.shape[-3:])
    t_all = target.reshape(-1, *target.shape[-3:])
    out = []
    for i in range(0, p_all.shape[0], batch_frames):
        p = to_pm1(p_all[i : i + batch_frames].to(device), data_range, "preds")
        t = to_pm1(t_all[i : i + batch_frames].to(device), data_range, "target")
        if p.shape[1] == 1:
            p, t = p.expand(-1, 3, -1, -1), t.expand(-1, 3, -1, -1)
        out.append(model(p, t).float())
    if not out:
        return torch.empty(lead, device=preds.device)
    return torch.cat(out).reshape(lead).to(preds.device)
