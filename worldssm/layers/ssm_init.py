"""S5 parameter initialisation and discretisation, shared by :class:`S5` and :class:`ConvS5`.

HiPPO-N init (Smith et al. 2023): S is the normal part of HiPPO-LegS, Re Λ = mean(diag S) = -0.5,
Im Λ and the eigenvectors V come from eig(-iS). With conjugate symmetry only the eigenvalues of
one half of each conjugate pair are kept and the layer outputs 2·Re(C̃ x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class SSMConfig:
    """Hyper-parameters of one S5 / ConvS5 layer.

    Attributes:
        state_size: P, the number of state channels before conjugate halving (the layer keeps
            ``state_size // 2`` complex channels when ``conj_sym``).
        blocks: J, the number of HiPPO-N blocks of the block-diagonal init (P divisible by J).
        conj_sym: keep half of each conjugate pair and output 2·Re(·).
        dt_min, dt_max: log Δ is initialised log-uniform in [dt_min, dt_max].
        discretization: ``"zoh"`` or ``"bilinear"``.
        clip_eigs: clamp Re Λ ≤ -1e-4 (for stable long autoregressive rollouts).
        kernel_size: k of the k x k convolutional B and C (ConvS5 only).
    """

    state_size: int = 64
    blocks: int = 1
    conj_sym: bool = True
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    discretization: str = "zoh"
    clip_eigs: bool = False
    kernel_size: int = 3

    def __post_init__(self):
        if self.state_size % self.blocks:
            raise ValueError(
                f"state_size {self.state_size} must be divisible by blocks {self.blocks}"
            )
        block = self.state_size // self.blocks
        if self.conj_sym and block % 2:
            raise ValueError(f"conj_sym needs an even block size; got {block}")
        if self.discretization not in ("zoh", "bilinear"):
            raise ValueError(
                f"discretization must be 'zoh' or 'bilinear'; got {self.discretization!r}"
            )
        if not 0 < self.dt_min <= self.dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max; got {self.dt_min}, {self.dt_max}")

    @property
    def num_modes(self) -> int:
        """Complex state channels the layer stores: P/2 with conjugate symmetry, else P."""
        return self.state_size // 2 if self.conj_sym else self.state_size


def hippo_n(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of the normal part of HiPPO-LegS of size n.

    Returns:
        lam (n,) complex128 with Re = -0.5 and Im sorted ascending, V (n, n) complex128 unitary.
    """
    idx = torch.arange(n, dtype=torch.float64)
    p = torch.sqrt(1 + 2 * idx)
    a = torch.tril(p[:, None] * p[None, :]) - torch.diag(idx)
    a = -a  # HiPPO-LegS
    q = torch.sqrt(idx + 0.5)
    s = a + q[:, None] * q[None, :]  # normal part: -0.5 on the diagonal, skew-symmetric rest
    re = torch.diagonal(s).mean()
    im, v = torch.linalg.eigh(-1j * s.to(torch.complex128))
    return torch.complex(torch.full_like(im, float(re)), im), v


def init_eigen(cfg: SSMConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Block-diagonal HiPPO-N init.

    Returns:
        lam (M,) complex128, V (P, M) and V⁻¹ (M, P) complex128 with M = ``cfg.num_modes``.
    """
    block = cfg.state_size // cfg.blocks
    keep = block // 2 if cfg.conj_sym else block
    lam_b, v_b = hippo_n(block)
    # eigh sorts Im ascending: the second half holds one member of each conjugate pair.
    lam_b, v_b = (lam_b[block - keep :], v_b[:, block - keep :]) if cfg.conj_sym else (lam_b, v_b)
    lam = lam_b.repeat(cfg.blocks)
    v = torch.block_diag(*([v_b] * cfg.blocks))
    return lam, v, v.conj().T


def init_log_dt(m: int, cfg: SSMConfig) -> torch.Tensor:
    """log Δ (m,) drawn log-uniform in [dt_min, dt_max]."""
    u = torch.rand(m, dtype=torch.float64)
    return u * (math.log(cfg.dt_max) - math.log(cfg.dt_min)) + math.log(cfg.dt_min)


def discretize(
    lam: torch.Tensor, log_dt: torch.Tensor, method: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a diagonal continuous system.

    Args:
        lam: Λ (M,) complex; log_dt: log Δ (M,) real; method: ``"zoh"`` or ``"bilinear"``.

    Returns:
        Λ̄ (M,) and the input gain g (M,) with B̄ = g · B̃.
    """
    dt = torch.exp(log_dt).to(lam.dtype)
    if method == "zoh":
        lam_bar = torch.exp(lam * dt)
        return lam_bar, (lam_bar - 1) / lam
    bl = 1 / (1 - dt / 2 * lam)
    return bl * (1 + dt / 2 * lam), bl * dt


def lambda_from(lam_re: torch.Tensor, lam_im: torch.Tensor, clip: bool) -> torch.Tensor:
    """Λ = Re + i Im from the two real parameters, with Re Λ ≤ -1e-4 when ``clip``."""
    if clip:
        lam_re = lam_re.clamp(max=-1e-4)
    return torch.complex(lam_re, lam_im)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """complex128 for float64 inputs, else complex64 (the scan accumulates in fp32)."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def state_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of a recurrent state for inputs of ``dtype``: float64 or float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def cached_when_no_grad(module: torch.nn.Module, name: str, compute):
    """``compute()``, reused while autograd is off and ``module``'s own parameters are unchanged.

    Recurrent generation and imagination call a layer's ``step`` thousands of times with fixed
    weights; rebuilding Λ̄, B̄ and C̃ from the raw parameters each time costs dozens of small
    kernels per layer per step. The key holds each parameter's storage, version counter (bumped
    by optimizer steps and ``load_state_dict``), dtype and device, so any change recomputes.
    With autograd on, it always recomputes (gradients must flow to the parameters).
    """
    if torch.is_grad_enabled():
        return compute()
    key = tuple(
        (p.data_ptr(), p._version, p.dtype, p.device) for p in module.parameters(recurse=False)
    )
    cache = module.__dict__.setdefault("_no_grad_cache", {})
    hit = cache.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute()
    cache[name] = (key, value)
    return value
