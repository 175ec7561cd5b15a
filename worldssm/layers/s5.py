"""S5: a MIMO diagonal state space layer over 1-D sequences (Smith et al. 2023).

x_t = Λ̄ ⊙ x_{t-1} + B̄ u_t,  y_t = 2·Re(C̃ x_t) + D ⊙ u_t  (the factor 2 only with conjugate
symmetry). Parallel mode runs :func:`worldssm.kernels.linear_scan`; :meth:`S5.step` is one
recurrent step with the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from worldssm.kernels.linear_scan import linear_scan
from worldssm.layers.ssm_init import (
    SSMConfig,
    cached_when_no_grad,
    complex_dtype,
    discretize,
    init_eigen,
    init_log_dt,
    lambda_from,
)

SSM_PARAM_NAMES = ("lambda_re", "lambda_im", "b_re", "b_im", "log_dt")


@dataclass
class S5State:
    """Recurrent state of one :class:`S5` layer: x (B, M) complex."""

    x: torch.Tensor


class S5(nn.Module):
    """S5 layer over (B, T, H) sequences.

    Args:
        d_model: H, input and output features.
        cfg: :class:`SSMConfig` (state size P, blocks, discretisation, ...).

    Example::

        >>> layer = S5(16, SSMConfig(state_size=32))
        >>> y, state = layer(torch.randn(2, 100, 16), return_state=True)
        >>> y_next, state = layer.step(state, torch.randn(2, 16))
    """

    ssm_param_names = SSM_PARAM_NAMES

    def __init__(self, d_model: int, cfg: SSMConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or SSMConfig()
        self.d_model = d_model
        lam, v, vinv = init_eigen(cfg)
        m = cfg.num_modes
        b = torch.randn(cfg.state_size, d_model, dtype=torch.float64) / d_model**0.5
        c = torch.randn(d_model, cfg.state_size, dtype=torch.float64) / cfg.state_size**0.5
        b_t = vinv @ b.to(torch.complex128)  # (M, H)
        c_t = c.to(torch.complex128) @ v  # (H, M)
        self.lambda_re = nn.Parameter(lam.real.float())
        self.lambda_im = nn.Parameter(lam.imag.float())
        self.b_re = nn.Parameter(b_t.real.float())
        self.b_im = nn.Parameter(b_t.imag.float())
        self.c_re = nn.Parameter(c_t.real.float())
        self.c_im = nn.Parameter(c_t.imag.float())
        self.d = nn.Parameter(torch.randn(d_model))
        self.log_dt = nn.Parameter(init_log_dt(m, cfg).float())

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Λ̄ (M,) and B̄ (M, H), complex."""
        lam = lambda_from(self.lambda_re, self.lambda_im, self.cfg.clip_eigs)
        lam_bar, gain = discretize(lam, self.log_dt, self.cfg.discretization)
        return lam_bar, gain[:, None] * torch.complex(self.b_re, self.b_im)

    def _readout(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        c = torch.complex(self.c_re, self.c_im).to(x.dtype)
        y = (x @ c.T).real
        return (2 * y if self.cfg.conj_sym else y) + self.d * u

    def init_state(self, batch: int, device=None, dtype=torch.float32) -> S5State:
        """Zero state for ``batch`` sequences."""
        m = self.cfg.num_modes
        return S5State(torch.zeros(batch, m, device=device, dtype=complex_dtype(dtype)))

    def forward(
        self,
        u: torch.Tensor,
        state: S5State | None = None,
        reset: torch.Tensor | None = None,
        return_state: bool = False,
    ):
        """Parallel pass.

        Args:
            u: (B, T, H) real.
            state: initial state (zeros if None).
            reset: (B, T) bool, True where a new episode starts (state restarts from zero).
            return_state: also return the state after the last step.

        Returns:
            y (B, T, H), and an :class:`S5State` if ``return_state``.
        """
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(f"S5 expects (B, T, {self.d_model}); got {tuple(u.shape)}")
        lam_bar, b_bar = self.discrete()
        cdt = complex_dtype(u.dtype)
        bu = u.to(cdt) @ b_bar.to(cdt).T  # (B, T, M)
        h0 = None if state is None else state.x
        x, last = linear_scan(lam_bar.to(cdt), bu, h0=h0, reset=reset, return_final=True)
        y = self._readout(x, u)
        return (y, S5State(last)) if return_state else y

    def _step_operators(self, cdt: torch.dtype):
        """Λ̄ (M,), B̄ᵀ (H, M) and C̃ᵀ (M, H) in ``cdt``; cached across steps without autograd."""

        def compute():
            lam_bar, b_bar = self.discrete()
            c = torch.complex(self.c_re, self.c_im)
            return lam_bar.to(cdt), b_bar.to(cdt).T, c.to(cdt).T

        return cached_when_no_grad(self, f"step_{cdt}", compute)

    def step(self, state: S5State, u_t: torch.Tensor, reset_t: torch.Tensor | None = None):
        """One recurrent step: u_t (B, H) -> (y_t (B, H), new state)."""
        cdt = complex_dtype(u_t.dtype)
        lam_bar, b_t, c_t = self._step_operators(cdt)
        x = state.x
        if reset_t is not None:
            x = torch.where(reset_t[:, None], torch.zeros_like(x), x)
        x = lam_bar * x + u_t.to(cdt) @ b_t
        y = (x.to(c_t.dtype) @ c_t).real
        return (2 * y if self.cfg.conj_sym else y) + self.d * u_t, S5State(x)
