"""Reference linear scan: a plain loop over time. Slow, obviously right, float64-capable."""

from __future__ import annotations

import torch


def linear_scan_naive(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reset: torch.Tensor | None = None,
    reverse: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """h_t = a_t * h_{t-1} + b_t along dim 1, computed step by step in the dtype of ``b``.

    Args:
        a: broadcastable to ``b`` (B, T, *S).
        b: (B, T, *S).
        h0: (B, *S) or None (zeros).
        reset: (B, T) bool or None; where True the state restarts: h_t = b_t. With
            ``reverse=True`` a reset at t cuts the chain between t-1 and t, so h_{t-1} does not
            see h_t (episodes still start at their reset flag).
        reverse: scan from t = T-1 down to 0: h_t = a_t * h_{t+1} + b_t.

    Returns:
        h (B, T, *S) and the final state (B, *S) (h at the last step scanned).
    """
    bsz, length = b.shape[:2]
    a = torch.broadcast_to(a, b.shape)
    state = torch.zeros_like(b[:, 0]) if h0 is None else h0.to(b.dtype)
    extra = (1,) * (b.dim() - 2)
    outs = [None] * length
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        coeff = a[:, t]
        if reset is not None:
            cut_at = t + 1 if reverse else t
            if cut_at < length:
                keep = (~reset[:, cut_at]).to(b.dtype).reshape(bsz, *extra)
                coeff = coeff * keep
        state = coeff * state + b[:, t]
        outs[t] = state
    return torch.stack(outs, dim=1), state
