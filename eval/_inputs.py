"""Input checks shared by the metrics: value ranges, shapes and dtypes.

Every metric takes frames as ``uint8`` (values 0..255) or floating point with an explicit
``data_range`` (the value of white: ``1.0`` or ``255.0``). Nothing is guessed: a float tensor
without ``data_range`` or with values outside ``[0, data_range]`` is an error, because a silent
guess (for instance ``[-1, 1]`` images read as ``[0, 1]``) gives plausible but wrong numbers.
"""

from __future__ import annotations

import torch

# Float inputs may overshoot the range by rounding (e.g. a decoder output clamped in bf16).
_RANGE_TOLERANCE = 1e-3


def to_unit_range(
    x: torch.Tensor,
    data_range: float | None,
    name: str = "input",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Check the value range of ``x`` and return it as float32 in ``[0, 1]``.

    Args:
        x: frames of any shape, ``uint8`` or floating point.
        data_range: ``None`` or ``255`` for ``uint8``; required for floats (``1.0`` for frames in
            ``[0, 1]``, ``255.0`` for frames in ``[0, 255]``).
        name: the argument's name, for error messages.
        dtype: floating dtype of the result.

    Returns:
        tensor of the same shape and of ``dtype``, values in ``[0, 1]``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype == torch.uint8:
        if data_range not in (None, 255, 255.0):
            raise ValueError(
                f"{name} is uint8 (values 0..255) but data_range={data_range}; "
                "leave data_range out or pass 255 for uint8 frames"
            )
        return x.to(dtype) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"{name} must be uint8 or floating point, got {x.dtype}")
    if data_range is None:
        raise ValueError(
            f"{name} is {x.dtype}: pass data_range explicitly (1.0 for frames in [0, 1], "
            "255.0 for frames in [0, 255]); for frames in [-1, 1] use (x + 1) / 2 with "
            "data_range=1.0"
        )
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    if x.numel() > 0:
        lo, hi = float(x.min()), float(x.max())
        tol = _RANGE_TOLERANCE * data_range
        if lo < -tol or hi > data_range + tol or lo != lo or hi != hi:
            raise ValueError(
                f"{name} has values in [{lo:.4g}, {hi:.4g}], outside [0, {data_range}] "
                f"(data_range={data_range}); rescale the frames or fix data_range"
            )
    return (x.to(dtype) / float(data_range)).clamp_(0.0, 1.0)


def check_pair(preds: torch.Tensor, target: torch.Tensor, min_dims: int = 3) -> None:
    """Raise ``ValueError`` unless ``preds`` and ``target`` are frames ``(..., C, H, W)`` of the
    same shape with 1 or 3 channels."""
    for name, x in (("preds", preds), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < min_dims:
            raise ValueError(
                f"{name} must have shape (..., C, H, W) with at least {min_dims} dims, "
                f"got {tuple(x.shape)}"
            )
    if preds.shape != target.shape:
        raise ValueError(
            f"preds and target must have the same shape, got {tuple(preds.shape)} "
            f"and {tuple(target.shape)}"
        )
    if preds.shape[-3] not in (1, 3):
        raise ValueError(
            f"frames must be channels-first (..., C, H, W) with C = 1 or 3, got shape "
            f"{tuple(preds.shape)}; for (..., H, W, C) frames use x.movedim(-1, -3)"
        )


def to_pm1(x: torch.Tensor, data_range: float | None, name: str = "input") -> torch.Tensor:
    """Like :func:`to_unit_range` but returns values in ``[-1, 1]`` (what LPIPS and I3D take)."""
    return to_unit_range(x, data_range, name) * 2.0 - 1.0
