"""S4WM (Deng, Park, Ahn 2023): a world model whose sequence core is a stack of S5 layers.

The posterior q(z_t | x_t) reads the frame alone, so a whole chunk is encoded and sampled in
parallel; the S5 stack then scans the tokens u_t = W [z_{t-1}, a_t] in parallel (one linear scan
per layer, resetting at ``is_first`` inside the scan) to give h_t. Imagination steps the same
recurrence with O(1) cost per step. See :mod:`worldssm.models.world_model` for the interface.

Each block: (LayerNorm -> S5 -> GELU -> Linear, residual) twice, then (LayerNorm -> MLP,
residual); a final LayerNorm gives h.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from worldssm.kernels.linear_scan import linear_scan
from worldssm.layers.s5 import S5, S5State
from worldssm.layers.ssm_init import SSMConfig, complex_dtype
from worldssm.models.world_model import WorldModel, WorldModelConfig


@dataclass
class S4WMConfig(WorldModelConfig):
    """:class:`WorldModelConfig` plus the S5 stack: ``num_layers`` blocks of two S5 layers of
    ``state_size`` states each (see :class:`SSMConfig` for the rest)."""

    num_layers: int = 2
    state_size: int = 128
    ssm_blocks: int = 1
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    discretization: str = "zoh"
    clip_eigs: bool = True  # Re Λ < 0 keeps long imagination rollouts stable
    mlp_ratio: int = 2

    def ssm(self) -> SSMConfig:
        return SSMConfig(
            state_size=self.state_size,
            blocks=self.ssm_blocks,
            dt_min=self.dt_min,
            dt_max=self.dt_max,
            discretization=self.discretization,
            clip_eigs=self.clip_eigs,
        )


class SSMSublayer(nn.Module):
    """LayerNorm -> S5 -> GELU -> Linear, plus the residual. (B, [T,] D) -> same."""

    def __init__(self, d_model: int, cfg: SSMConfig):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.ssm = S5(d_model, cfg)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, u, state: S5State, reset, all_states: bool = False):
        """u (B, T, D) -> (out, state after T, the states after every step (B·T, M) or None)."""
        v = self.norm(u)
        if not all_states:
            y, state = self.ssm(v, state=state, reset=reset, return_state=True)
            return u + self.out(F.gelu(y)), state, None
        # S5.forward returns only the last state; here every x_t is kept (same scan, same maths).
        lam_bar, b_bar = self.ssm.discrete()
        cdt = complex_dtype(v.dtype)
        x = linear_scan(lam_bar.to(cdt), v.to(cdt) @ b_bar.to(cdt).T, h0=state.x, reset=reset)
        y = self.ssm._readout(x, v)
        return u + self.out(F.gelu(y)), S5State(x[:, -1]), S5State(x.flatten(0, 1))

    def step(self, u, state: S5State, reset):
        y, state = self.ssm.step(state, self.norm(u), reset)
        return u + self.out(F.gelu(y)), state


class S4WMBlock(nn.Module):
    """Two :class:`SSMSublayer` then a residual MLP; carries two :class:`S5State`."""

    def __init__(self, d_model: int, cfg: SSMConfig, mlp_ratio: int):
        super().__init__()
        self.ssm1 = SSMSublayer(d_model, cfg)
        self.ssm2 = SSMSublayer(d_model, cfg)
        self.norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, u, states: list[S5State], reset, all_states: bool = False):
        """Parallel: u (B, T, D) -> (out, [2 last states], [2 per-step states] or None)."""
        u, s1, a1 = self.ssm1(u, states[0], reset, all_states)
        u, s2, a2 = self.ssm2(u, states[1], reset, all_states)
        return u + self.mlp(self.norm(u)), [s1, s2], [a1, a2] if all_states else None

    def step(self, u, states: list[S5State], reset):
        """One step: u (B, D) -> (out, [2 states])."""
        u, s1 = self.ssm1.step(u, states[0], reset)
        u, s2 = self.ssm2.step(u, states[1], reset)
        return u + self.mlp(self.norm(u)), [s1, s2]


class S4WM(WorldModel):
    """S4WM world model: parallel posterior and S5 scans over chunks, O(1) imagination steps."""

    parallel = True

    def __init__(self, cfg: S4WMConfig):
        super().__init__(cfg)
        ssm = cfg.ssm()
        self.blocks = nn.ModuleList(
            S4WMBlock(cfg.d_model, ssm, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        self.out_norm = nn.LayerNorm(cfg.d_model)

    def _core_initial(self, batch: int, device, dtype) -> list[list[S5State]]:
        return [
            [
                b.ssm1.ssm.init_state(batch, device, dtype),
                b.ssm2.ssm.init_state(batch, device, dtype),
            ]
            for b in self.blocks
        ]

    def _core(self, core, u, is_first, all_states: bool = False):
        new, per_step = [], []
        for block, states in zip(self.blocks, core, strict=True):
            u, states, every = block(u, states, is_first, all_states)
            new.append(states)
            per_step.append(every)
        return self.out_norm(u), new, per_step if all_states else None

    def _core_step(self, core, u, is_first):
        new = []
        for block, states in zip(self.blocks, core, strict=True):
            u, states = block.step(u, states, is_first)
            new.append(states)
        return self.out_norm(u), new
