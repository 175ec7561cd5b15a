"""PSNR and SSIM per frame.

Both take frames ``(..., C, H, W)`` (for instance videos ``(B, T, C, H, W)``) and return one value
per frame, shape ``(...)``: average them yourself, or use the protocols in
:mod:`worldssm.eval.protocols`. Computations run in float64.

SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
computed per channel and averaged over channels and pixels. Two border conventions exist:
``padding="valid"`` (default; TECO, TensorFlow and dm-pix: only windows inside the frame) and
``padding="reflect"`` (torchmetrics >= 1.0: reflect-padded, every pixel counted). They differ by
about 1e-3 on 64x64 frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from worldssm.eval._inputs import check_pair, to_unit_range


def psnr(
    preds: torch.Tensor, target: torch.Tensor, data_range: float | None = None
) -> torch.Tensor:
    """Peak signal-to-noise ratio per frame, in dB.

    Args:
        preds, target: frames ``(..., C, H, W)``, ``uint8`` or float with ``data_range``.
        data_range: value of white for float frames (``1.0`` or ``255.0``); ``None`` for uint8.

    Returns:
        float64 tensor of shape ``(...)``; ``inf`` where a frame equals its target.

    Example:
        >>> v = torch.randint(0, 256, (2, 5, 3, 64, 64), dtype=torch.uint8)
        >>> psnr(v, v.flip(0)).shape
        torch.Size([2, 5])
    """
    check_pair(preds, target)
    p = to_unit_range(preds, data_range, "preds", torch.float64)
    t = to_unit_range(target, data_range, "target", torch.float64)
    mse = (p - t).square().mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(1.0 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps, shape ``(size,)``."""
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, window: torch.Tensor, padding: str) -> torch.Tensor:
    """Separable Gaussian filter of ``x`` ``(N, 1, H, W)``: valid region or reflect padded."""
    k = window.numel()
    if padding == "reflect":
        x = F.pad(x, [(k - 1) // 2] * 4, mode="reflect")
    x = F.conv2d(x, window.view(1, 1, 1, k))
    return F.conv2d(x, window.view(1, 1, k, 1))


def ssim(
    preds: torch.Tensor,
    target: torch.Tensor,
    data_range: float | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    padding: str = "valid",
    batch_frames: int = 64,
) -> torch.Tensor:
    """Structural similarity per frame.

    Args:
        preds, target: frames ``(..., C, H, W)`` with ``H, W >= window_size``, ``uint8`` or float
            with ``data_range``.
        data_range: value of white for float frames (``1.0`` or ``255.0``); ``None`` for uint8.
        window_size, sigma: the Gaussian window (TECO: 11 and 1.5).
        k1, k2: stability constants of the SSIM formula.
        padding: ``"valid"`` (TECO) or ``"reflect"`` (torchmetrics); see the module docstring.
        batch_frames: frames filtered at once (bounds the memory of the float64 maps).

    Returns:
        float64 tensor of shape ``(...)`` with values in ``[-1, 1]`` (1 for identical frames).
    """
    check_pair(preds, target)
    if padding not in ("valid", "reflect"):
        raise ValueError(f"padding must be 'valid' or 'reflect', got {padding!r}")
    c, h, w = preds.shape[-3:]
    if h < window_size or w < window_size:
        raise ValueError(f"SSIM needs frames of at least {window_size}x{window_size}, got {h}x{w}")
    lead = preds.shape[:-3]
    p_all = preds.reshape(-1, c, h, w)
    t_all = target.reshape(-1, c, h, w)
    window = gaussian_window(window_size, sigma).to(preds.device)
    c1, c2 = k1**2, k2**2
    out = []
    for i in range(0, p_all.shape[0], batch_frames):
        p = to_unit_range(p_all[i : i + batch_frames], data_range, "preds", torch.float64)
        t = to_unit_range(t_all[i : i + batch_frames], data_range, "target", torch.float64)
        n = p.shape[0]
        p = p.reshape(n * c, 1, h, w)
        t = t.reshape(n * c, 1, h, w)
        mu_p, mu_t = _blur(p, window, padding), _blur(t, window, padding)
        var_p = _blur(p * p, window, padding) - mu_p**2
        var_t = _blur(t * t, window, padding) - mu_t**2
        cov = _blur(p * t, window, padding) - mu_p * mu_t
        num = (2 * mu_p * mu_t + c1) * (2 * cov + c2)
        den = (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)
        out.append((num / den).reshape(n, -1).mean(dim=1))
    if not out:
        return torch.empty(lead, dtype=torch.float64, device=preds.device)
    return torch.cat(out).reshape(lead)
