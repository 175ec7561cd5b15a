"""SS2D: the batched 4-direction layer against a per-direction loop reference."""

import pytest
import torch
import torch.nn.functional as F

from worldssm.kernels.backend import scan_backend, triton_available
from worldssm.kernels.selective_scan import selective_scan_naive
from worldssm.layers.ss2d import SS2D, directional_orders
from worldssm.models import param_groups


def ss2d_reference(layer: SS2D, x: torch.Tensor, orders: torch.Tensor | None = None):
    """SS2D written plainly: one naive selective scan per direction, scattered back, summed."""
    single = x.dim() == 4
    x5 = x[:, None] if single else x
    bsz, frames, h, w, _ = x5.shape
    if orders is None:
        orders = directional_orders(h, w, frames)
    d, n, r = layer.d_inner, layer.d_state, layer.dt_rank
    u, z = layer.in_proj(x5).chunk(2, dim=-1)
    conv = torch.stack(
        [F.silu(layer.conv(u[:, f].permute(0, 3, 1, 2))) for f in range(frames)], 1
    )  # (B, T, D, H, W)
    # token (i, j, f) at (i*W + j)*T + f
    tokens = torch.empty(bsz, h * w * frames, d, dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            for f in range(frames):
                tokens[:, (i * w + j) * frames + f] = conv[:, f, :, i, j]
    y = torch.zeros_like(tokens)
    for k, order in enumerate(orders):
        seq = tokens[:, order].transpose(1, 2)  # (B, D, L) in scan order
        proj = torch.einsum("bdl,cd->bcl", seq, layer.x_proj_weight[k])
        dt, b, c = proj.split([r, n, n], dim=1)
        dt = torch.einsum("brl,dr->bdl", dt, layer.dt_proj_weight[k])
        out, _ = selective_scan_naive(
            seq, dt, -torch.exp(layer.A_log[k]), b, c, layer.D[k], None, layer.dt_bias[k], True
        )
        y[:, order] += out.transpose(1, 2)
    y = y.view(bsz, h, w, frames, d).permute(0, 3, 1, 2, 4)
    out = layer.out_proj(layer.out_norm(y) * F.silu(z))
    return out[:, 0] if single else out


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def _compare(layer, x, orders=None, tol=1e-10):
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    out = layer(x1, orders)
    ref = ss2d_reference(layer, x2, orders)
    assert out.shape == x.shape and _rel(out, ref) < tol
    g = torch.randn_like(out)
    params = list(layer.parameters())
    got = torch.autograd.grad(out, [x1, *params], g)
    want = torch.autograd.grad(ref, [x2, *params], g)
    names = ["x"] + [name for name, _ in layer.named_parameters()]
    for name, a, b in zip(names, got, want, strict=True):
        assert _rel(a, b) < tol, name


@pytest.mark.parametrize("frames", [1, 2])
def test_ss2d_matches_reference_odd_sizes(frames):
    torch.manual_seed(0)
    layer = SS2D(6, d_state=4).double()
    shape = (2, 5, 7, 6) if frames == 1 else (2, frames, 5, 7, 6)
    _compare(layer, torch.randn(*shape, dtype=torch.float64))


def test_ss2d_custom_orders():
    torch.manual_seed(1)
    layer = SS2D(4, d_state=3, num_dirs=3).double()
    length = 2 * 3 * 5
    orders = torch.stack([torch.randperm(length) for _ in range(3)])
    _compare(layer, torch.randn(1, 2, 3, 5, 4, dtype=torch.float64), orders)


@pytest.mark.skipif(not triton_available(), reason="needs triton")
def test_ss2d_triton_path_matches_torch_path():
    torch.manual_seed(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: the Triton interpreter
    layer = SS2D(2, d_state=2).to(device)
    x = torch.randn(1, 2, 2, 3, 2, device=device)
    with scan_backend("torch"):
        ref = layer(x)
        g_ref = torch.autograd.grad(ref.square().sum(), list(layer.parameters()))
    with scan_backend("triton"):
        out = layer(x)
        g = torch.autograd.grad(out.square().sum(), list(layer.parameters()))
    assert _rel(out, ref) < 1e-4
    for a, b in zip(g, g_ref, strict=True):
        assert _rel(a, b) < 1e-3


def test_directional_orders_layout():
    o = directional_orders(2, 3)
    assert o[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert o[1].tolist() == [0, 3, 1, 4, 2, 5]
    assert o[2].tolist() == o[0].flip(0).tolist() and o[3].tolist() == o[1].flip(0).tolist()
    o2 = directional_orders(2, 2, frames=2)  # frames interleaved one by one at each pixel
    assert o2[0].tolist() == list(range(8))
    assert o2[1].tolist() == [0, 1, 4, 5, 2, 3, 6, 7]


def test_ss2d_bf16_autocast_cpu():
    torch.manual_seed(3)
    layer = SS2D(8, d_state=4)
    x = torch.randn(2, 2, 5, 7, 8)
    ref = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert torch.isfinite(out).all() and _rel(out.float(), ref) < 0.05
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


def test_ss2d_errors_and_param_groups():
    layer = SS2D(4, d_state=2)
    with pytest.raises(ValueError, match="SS2D expects"):
        layer(torch.randn(2, 5, 7, 3))
    with pytest.raises(ValueError, match="orders must have shape"):
        layer(torch.randn(1, 3, 3, 4), torch.zeros(4, 8, dtype=torch.long))
    groups = {g["name"]: g for g in param_groups(layer, weight_decay=0.1)}
    ssm = {id(p) for p in groups["ssm"]["params"]}
    assert ssm == {id(layer.A_log), id(layer.D), id(layer.dt_bias)}
    assert groups["ssm"]["weight_decay"] == 0


def test_ss2d_frame_major_input_view():
    # The Mixed-SSM block hands SS2D a (T, B, H, W, C) tensor seen as (B, T, H, W, C).
    torch.manual_seed(4)
    layer = SS2D(6, d_state=3).double()
    base = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64)  # (T, B, H, W, C)
    results = []
    for x in (base.transpose(0, 1), base.transpose(0, 1).contiguous()):
        xi = x.detach().requires_grad_()
        y = layer(xi)
        results.append([y, *torch.autograd.grad(y.square().sum(), [xi, *layer.parameters()])])
    assert results[0][0].transpose(0, 1).is_contiguous()  # output in the input's memory order
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_ss2d_no_grad_weight_cache_follows_parameter_updates():
    torch.manual_seed(5)
    layer = SS2D(4, d_state=2)
    x = torch.randn(1, 2, 3, 4, 4)
    with torch.no_grad():
        first = layer(x)
        again = layer(x)  # served from the cache
        layer.A_log.add_(0.5)  # in-place update: the cache must notice
        moved = layer(x)
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    torch.testing.assert_close(moved, layer(x).detach())  # == the uncached (autograd) path
    assert (moved - first).abs().max() > 1e-5


@pytest.mark.parametrize("frame_major", [False, True])
@pytest.mark.parametrize("frames", [1, 2])
def test_ss2d_no_grad_tokens_last_path_matches_reference(frames, frame_major):
    # Without autograd SS2D builds channels-last tokens and block-diagonal projections
    # (_scan_four_directions_tokens_last); it must equal the plain per-direction reference.
    torch.manual_seed(6)
    layer = SS2D(6, d_state=4).double()
    shape = (frames, 2, 5, 7, 6) if frame_major else (2, frames, 5, 7, 6)
    x = torch.randn(*shape, dtype=torch.float64)
    x = x.transpose(0, 1) if frame_major else x
    with torch.no_grad():
        out = layer(x)
    assert _rel(out, ss2d_reference(layer, x).detach()) < 1e-10
    if frame_major:
        assert out.transpose(0, 1).is_contiguous()


@pytest.mark.skipif(not triton_available(), reason="needs triton")
def test_ss2d_no_grad_triton_matches_torch():
    # The inference scan kernel (triton_seq) on the channels-last tokens, odd sizes, 2 frames.
    torch.manual_seed(7)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: the Triton interpreter
    layer = SS2D(4, d_state=3).to(device)
    x = torch.randn(1, 2, 3, 5, 4, device=device)
    with torch.no_grad():
        with scan_backend("torch"):
            ref = layer(x)
        with scan_backend("triton"):
            out = layer(x)
    assert _rel(out, ref) < 1e-4
