"""S5 and ConvS5 layers: init, discretisation, step == parallel, resets, chunked state."""

import pytest
import torch

from worldssm.layers import S5, ConvS5, SSMConfig
from worldssm.layers.ssm_init import discretize, hippo_n, init_eigen, init_log_dt

CONFIGS = [
    SSMConfig(state_size=8),
    SSMConfig(state_size=8, blocks=2, discretization="bilinear", clip_eigs=True),
    SSMConfig(state_size=6, conj_sym=False, kernel_size=1),
]


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def test_hippo_n_reconstructs_normal_part():
    n = 8
    lam, v = hippo_n(n)
    assert torch.allclose(lam.real, torch.full((n,), -0.5, dtype=torch.float64))
    assert torch.allclose(v.conj().T @ v, torch.eye(n, dtype=torch.complex128), atol=1e-10)
    s = v @ torch.diag(lam) @ v.conj().T
    assert torch.allclose(s.imag, torch.zeros_like(s.imag), atol=1e-10)
    assert torch.allclose(torch.diagonal(s.real), torch.full((n,), -0.5, dtype=torch.float64))
    assert torch.allclose(s.real + s.real.T, -torch.eye(n, dtype=torch.float64), atol=1e-10)


def test_conjugate_half_and_blocks():
    cfg = SSMConfig(state_size=16, blocks=2)
    lam, v, vinv = init_eigen(cfg)
    assert lam.shape == (8,) and v.shape == (16, 8) and vinv.shape == (8, 16)
    assert (lam.imag > 0).all()  # one member of each conjugate pair
    assert torch.equal(lam[:4], lam[4:])


def test_log_dt_range_and_zoh():
    cfg = SSMConfig(state_size=4000, dt_min=1e-3, dt_max=1e-1)
    dt = init_log_dt(cfg.num_modes, cfg).exp()
    assert dt.min() >= 1e-3 and dt.max() <= 1e-1 and dt.median() < 2e-2
    lam = torch.tensor([-0.5 + 2j], dtype=torch.complex128)
    log_dt = torch.tensor([-2.0], dtype=torch.float64)
    lam_bar, gain = discretize(lam, log_dt, "zoh")
    assert torch.allclose(lam_bar, torch.exp(lam * torch.exp(log_dt)))
    lam_bl, gain_bl = discretize(lam, log_dt, "bilinear")
    half = lam * torch.exp(log_dt) / 2
    assert torch.allclose(lam_bl, (1 + half) / (1 - half))
    assert torch.allclose(gain_bl, torch.exp(log_dt) / (1 - half))
    assert (lam_bl - lam_bar).abs().item() < 5e-3 and lam_bl.abs().item() < 1


def test_clip_eigs():
    layer = S5(4, SSMConfig(state_size=4, clip_eigs=True))
    with torch.no_grad():
        layer.lambda_re.fill_(0.3)
    assert (layer.discrete()[0].abs() < 1).all()


@pytest.mark.parametrize("cfg", CONFIGS, ids=["zoh", "bilinear-blocks", "noconj-k1"])
def test_s5_step_equals_parallel(cfg):
    torch.manual_seed(0)
    layer = S5(5, cfg).double()
    u = torch.randn(3, 9, 5, dtype=torch.float64)
    reset = torch.zeros(3, 9, dtype=torch.bool)
    reset[1, 4] = True
    s0 = layer.init_state(3, dtype=torch.float64)
    s0.x = torch.randn_like(s0.x)
    y, last = layer(u, state=s0, reset=reset, return_state=True)
    state, ys = s0, []
    for t in range(9):
        y_t, state = layer.step(state, u[:, t], reset[:, t])
        ys.append(y_t)
    assert _rel(torch.stack(ys, 1), y) < 1e-12
    assert _rel(state.x, last.x) < 1e-12
    # the episode after the reset does not see what came before
    fresh = layer(u[1:2, 4:])
    assert _rel(y[1:2, 4:], fresh) < 1e-12


@pytest.mark.parametrize("cfg", CONFIGS, ids=["zoh", "bilinear-blocks", "noconj-k1"])
def test_convs5_step_equals_parallel(cfg):
    torch.manual_seed(0)
    layer = ConvS5(3, cfg).double()
    u = torch.randn(2, 7, 3, 5, 4, dtype=torch.float64)
    reset = torch.zeros(2, 7, dtype=torch.bool)
    reset[0, 3] = True
    y, last = layer(u, reset=reset, return_state=True)
    state, ys = layer.init_state(2, 5, 4, dtype=torch.float64), []
    for t in range(7):
        y_t, state = layer.step(state, u[:, t], reset[:, t])
        ys.append(y_t)
    assert _rel(torch.stack(ys, 1), y) < 1e-12
    assert _rel(state.x, last.x) < 1e-12
    assert _rel(y[0:1, 3:], layer(u[0:1, 3:])) < 1e-12
    # chunked: continuing from the returned state equals one pass
    y1, s1 = layer(u[:, :4], return_state=True)
    y2 = layer(u[:, 4:], state=s1)
    full = layer(u)
    assert _rel(torch.cat([y1, y2], 1), full) < 1e-12


def test_convs5_gradients_reach_every_parameter():
    torch.manual_seed(0)
    layer = ConvS5(4, SSMConfig(state_size=8))
    h0 = layer.init_state(2, 6, 6)
    h0.x = torch.randn_like(h0.x).requires_grad_()
    u = torch.randn(2, 5, 4, 6, 6, requires_grad=True)
    layer(u, state=h0).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert u.grad.abs().sum() > 0 and h0.x.grad.abs().sum() > 0


def test_bad_input_shape_names_the_expectation():
    layer = ConvS5(4, SSMConfig(state_size=8))
    with pytest.raises(ValueError, match=r"\(B, T, 4, H, W\)"):
        layer(torch.randn(2, 5, 3, 6, 6))
    with pytest.raises(ValueError, match="divisible"):
        SSMConfig(state_size=10, blocks=3)


@pytest.mark.parametrize("kind", ["s5", "convs5"])
def test_step_operator_cache_follows_parameter_updates(kind):
    """Without autograd, step reuses Λ̄/B̄/C̃; an in-place parameter update must invalidate them."""
    torch.manual_seed(0)
    cfg = SSMConfig(state_size=8)
    if kind == "s5":
        layer, u = S5(6, cfg), torch.randn(3, 6)
    else:
        layer, u = ConvS5(4, cfg), torch.randn(2, 4, 5, 5)
    state = layer.init_state(*((3,) if kind == "s5" else (2, 5, 5)))
    state.x = torch.randn_like(state.x)
    with torch.no_grad():
        y_cached, _ = layer.step(state, u)
        y_again, _ = layer.step(state, u)  # served from the cache
    y_fresh, _ = layer.step(state, u)  # autograd on: recomputed
    torch.testing.assert_close(y_cached, y_fresh.detach())
    torch.testing.assert_close(y_again, y_cached)
    with torch.no_grad():
        layer.log_dt.add_(0.5)  # what an optimizer step does
        y_updated, _ = layer.step(state, u)
    y_expected, _ = layer.step(state, u)
    assert not torch.allclose(y_updated, y_cached)
    torch.testing.assert_close(y_updated, y_expected.detach())


def test_convs5_step_under_bf16_autocast_keeps_an_fp32_state():
    """Generation runs under bf16 autocast: convs in bf16, the recurrence accumulates in fp32."""
    torch.manual_seed(0)
    layer = ConvS5(4, SSMConfig(state_size=8))
    u = torch.randn(2, 4, 5, 5)
    state = layer.init_state(2, 5, 5)
    state.x = torch.randn_like(state.x)
    with torch.no_grad():
        y_ref, s_ref = layer.step(state, u)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, s = layer.step(state, u)
    assert s.x.dtype == torch.float32 and y.dtype == torch.float32
    torch.testing.assert_close(s.x, s_ref.x, rtol=0.05, atol=0.05)
    torch.testing.assert_close(y, y_ref, rtol=0.05, atol=0.1)
