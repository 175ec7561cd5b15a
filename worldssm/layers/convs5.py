"""ConvS5: S5 with tensor-valued states and k x k convolutional B and C (Smith et al. 2023).

States are (B, T, M, H, W) complex with M = P/2 modes (conjugate symmetry). Λ is diagonal and
shared over pixels, so the scan coefficient is a time-invariant (M, 1, 1) tensor that
:func:`worldssm.kernels.linear_scan` never expands. B̄ u for all frames is one batched conv.

The carried state (:class:`ConvS5State`) stores the complex x as one real tensor, real parts then
imaginary parts along channels: the recurrent step is then three real elementwise kernels and
the C conv reads the state directly (a complex state costs casts, a ``complex`` and a ``cat``
per layer and frame, which dominate a launch-bound generation step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.kernels.linear_scan import linear_scan
from worldssm.layers.s5 import SSM_PARAM_NAMES
from worldssm.layers.ssm_init import (
    SSMConfig,
    cached_when_no_grad,
    complex_dtype,
    discretize,
    init_eigen,
    init_log_dt,
    lambda_from,
    state_dtype,
)


@dataclass
class ConvS5State:
    """Recurrent state of one :class:`ConvS5` layer.

    x: (B, 2M, H, W) real (float32, or float64 for float64 inputs): ``x[:, :M]`` holds Re x and
    ``x[:, M:]`` holds Im x of the complex (B, M, H, W) state.
    """

    x: torch.Tensor

    def as_complex(self) -> torch.Tensor:
        """The complex state (B, M, H, W)."""
        m = self.x.shape[1] // 2
        return torch.complex(self.x[:, :m], self.x[:, m:])

    @staticmethod
    def from_complex(x: torch.Tensor) -> ConvS5State:
        """Pack a complex (B, M, H, W) state."""
        return ConvS5State(torch.cat([x.real, x.imag], dim=1))


class ConvS5(nn.Module):
    """ConvS5 layer over (B, T, C, H, W) videos of features.

    x_t = Λ̄ ⊙ x_{t-1} + B̄ * u_t,  y_t = 2·Re(C̃ * x_t) + D ⊙ u_t,  with * a k x k convolution.

    Args:
        channels: C, input and output feature channels.
        cfg: :class:`SSMConfig` (state size P, blocks, kernel size, discretisation, ...).
    """

    ssm_param_names = SSM_PARAM_NAMES

    def __init__(self, channels: int, cfg: SSMConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or SSMConfig()
        self.channels = channels
        k, p, m = cfg.kernel_size, cfg.state_size, cfg.num_modes
        if k % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {k}")
        lam, v, vinv = init_eigen(cfg)
        b = torch.randn(p, channels, k, k, dtype=torch.float64) / (channels * k * k) ** 0.5
        c = torch.randn(channels, p, k, k, dtype=torch.float64) / (p * k * k) ** 0.5
        b_t = torch.einsum("mp,pckl->mckl", vinv, b.to(torch.complex128))  # (M, C, k, k)
        c_t = torch.einsum("cpkl,pm->cmkl", c.to(torch.complex128), v)  # (C, M, k, k)
        self.lambda_re = nn.Parameter(lam.real.float())
        self.lambda_im = nn.Parameter(lam.imag.float())
        self.b_re = nn.Parameter(b_t.real.float())
        self.b_im = nn.Parameter(b_t.imag.float())
        self.c_re = nn.Parameter(c_t.real.float())
        self.c_im = nn.Parameter(c_t.imag.float())
        self.d = nn.Parameter(torch.randn(channels))
        self.log_dt = nn.Parameter(init_log_dt(m, cfg).float())

    def _operators(self):
        """Λ̄ (M,) complex, the real B̄ conv weight (2M, C, k, k), the real C conv (C, 2M, k, k)."""
        lam = lambda_from(self.lambda_re, self.lambda_im, self.cfg.clip_eigs)
        lam_bar, gain = discretize(lam, self.log_dt, self.cfg.discretization)
        b_bar = gain[:, None, None, None] * torch.complex(self.b_re, self.b_im)
        w_b = torch.cat([b_bar.real, b_bar.imag], dim=0)
        scale = 2.0 if self.cfg.conj_sym else 1.0
        w_c = scale * torch.cat([self.c_re, -self.c_im], dim=1)
        return lam_bar, w_b, w_c

    def _input(self, u: torch.Tensor, w_b: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) real -> B̄ * u (N, M, H, W) complex."""
        bu = F.conv2d(u, w_b.to(u.dtype), padding=self.cfg.kernel_size // 2)
        m = self.cfg.num_modes
        re, im = bu[:, :m], bu[:, m:]
        cdt = complex_dtype(u.dtype)
        return torch.complex(re.to(cdt.to_real()), im.to(cdt.to_real()))

    def _readout(self, z: torch.Tensor, u: torch.Tensor, w_c: torch.Tensor) -> torch.Tensor:
        """z (N, 2M, H, W) real (Re x then Im x), u (N, C, H, W) -> y (N, C, H, W)."""
        y = F.conv2d(z.to(u.dtype), w_c.to(u.dtype), padding=self.cfg.kernel_size // 2)
        return y + self.d.to(u.dtype)[:, None, None] * u

    def init_state(self, batch: int, height: int, width: int, device=None, dtype=torch.float32):
        """Zero :class:`ConvS5State` for ``batch`` videos of ``height`` x ``width`` features."""
        shape = (batch, 2 * self.cfg.num_modes, height, width)
        return ConvS5State(torch.zeros(shape, device=device, dtype=state_dtype(dtype)))

    def forward(
        self,
        u: torch.Tensor,
        state: ConvS5State | None = None,
        reset: torch.Tensor | None = None,
        return_state: bool = False,
    ):
        """Parallel pass.

        Args:
            u: (B, T, C, H, W) real.
            state: initial state (zeros if None).
            reset: (B, T) bool, True where a new episode starts.
            return_state: also return the state after the last frame.

        Returns:
            y (B, T, C, H, W), and a :class:`ConvS5State` if ``return_state``.
        """
        if u.dim() != 5 or u.shape[2] != self.channels:
            raise ValueError(f"ConvS5 expects (B, T, {self.channels}, H, W); got {tuple(u.shape)}")
        bsz, t = u.shape[:2]
        lam_bar, w_b, w_c = self._operators()
        flat = u.flatten(0, 1)
        bu = self._input(flat, w_b).unflatten(0, (bsz, t))
        h0 = None if state is None else state.as_complex().to(bu.dtype)
        a = lam_bar.to(bu.dtype)[:, None, None]
        x, last = linear_scan(a, bu, h0=h0, reset=reset, return_final=True)
        z = torch.cat([x.real, x.imag], dim=2).flatten(0, 1)
        y = self._readout(z, flat, w_c).unflatten(0, (bsz, t))
        return (y, ConvS5State.from_complex(last)) if return_state else y

    def _step_operators(self, conv_dtype: torch.dtype, u_dtype: torch.dtype, x_dtype: torch.dtype):
        """What one recurrent step needs, cast once; cached across steps while autograd is off.

        Returns:
            a_re (2M, 1, 1) = [Re Λ̄; Re Λ̄] and a_im (2M, 1, 1) = [-Im Λ̄; Im Λ̄] in ``x_dtype``
            (so Λ̄ ⊙ x = a_re * x + a_im * swap_halves(x) on the real state), the B̄ conv weight
            (2M, C, k, k) and the C conv weight (C, 2M, k, k) in ``conv_dtype``, D (C, 1, 1) in
            ``u_dtype``.
        """

        def compute():
            lam_bar, w_b, w_c = self._operators()
            a_re = torch.cat([lam_bar.real, lam_bar.real]).to(x_dtype)[:, None, None]
            a_im = torch.cat([-lam_bar.imag, lam_bar.imag]).to(x_dtype)[:, None, None]
            d = self.d.to(u_dtype)[:, None, None]
            return a_re, a_im, w_b.to(conv_dtype), w_c.to(conv_dtype), d

        key = f"step_{conv_dtype}_{u_dtype}_{x_dtype}"
        return cached_when_no_grad(self, key, compute)

    def step(self, state: ConvS5State, u_t: torch.Tensor, reset_t: torch.Tensor | None = None):
        """One recurrent step: u_t (B, C, H, W) -> (y_t (B, C, H, W), new state). O(1) memory.

        The same arithmetic as :meth:`forward` in real form: two convs, a swap of the state's
        halves and three multiply-adds, plus the casts of the conv inputs to the conv dtype.
        """
        x = state.x
        dev = u_t.device.type
        conv_dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else u_t.dtype
        a_re, a_im, w_b, w_c, d = self._step_operators(conv_dtype, u_t.dtype, x.dtype)
        if reset_t is not None:
            x = x.masked_fill(reset_t[:, None, None, None], 0)
        pad = self.cfg.kernel_size // 2
        bu = F.conv2d(u_t.to(conv_dtype), w_b, padding=pad)  # (B, 2M, H, W): Re then Im
        m = x.shape[1] // 2
        swapped = torch.cat([x[:, m:], x[:, :m]], dim=1)  # (Im x; Re x), in x's memory format
        # Autocast would add a cast kernel per mixed-dtype addcmul operand; without it the
        # kernels promote on the fly. The state accumulates in its dtype (fp32 under bf16):
        # Re: Re Λ̄ Re x - Im Λ̄ Im x + Re B̄u;  Im: Re Λ̄ Im x + Im Λ̄ Re x + Im B̄u.
        with torch.autocast(dev, enabled=False):
            x = torch.addcmul(torch.addcmul(bu, x, a_re), swapped, a_im)
        y = F.conv2d(x.to(conv_dtype), w_c, padding=pad)
        with torch.autocast(dev, enabled=False):
            y = torch.addcmul(y, u_t, d)  # + D ⊙ u_t, in u_t's dtype (or wider)
        return y, ConvS5State(x)
