"""One recurrent step of the selective scan, for generation with an explicit state."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def selective_step(
    state: torch.Tensor,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance the selective scan by one time step: O(1) in the sequence length.

    Args:
        state: (B, D, N) state before the step (float32 recommended).
        u, delta: (B, D) inputs at this step; z (B, D) optional gate.
        A: (D, N). B, C: (B, N) or grouped (B, G, N), the values at this step.
        D: (D,) skip; delta_bias: (D,).

    Returns:
        y (B, D) in u's dtype and the new state (B, D, N) in the state's dtype.
    """
    cdt = state.dtype
    d_inner = u.shape[1]
    delta = delta.to(cdt)
    if delta_bias is not None:
        delta = delta + delta_bias.to(cdt)
    if delta_softplus:
        delta = F.softplus(delta)

    def per_channel(x):
        if x.dim() == 2:
            return x[:, None].to(cdt)  # (B, N)
        return x.repeat_interleave(d_inner // x.shape[1], dim=1).to(cdt)  # (B, G, N)

    new_state = torch.exp(delta[..., None] * A.to(cdt)) * state + (
        (delta * u.to(cdt))[..., None] * per_channel(B)
    )
    y = (new_state * per_channel(C)).sum(-1)
    if D is not None:
        y = y + u.to(cdt) * D.to(cdt)
    if z is not None:
        y = y * F.silu(z.to(cdt))
    return y.to(u.dtype), new_state
