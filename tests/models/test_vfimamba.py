"""VFIMamba: presets, the interface contract, gradients, warping helpers, errors and the loss."""

import pytest
import torch

import worldssm
from worldssm.models import param_groups
from worldssm.models.vfi_blocks import MixedSSMBlock
from worldssm.models.vfi_flow import backward_warp, resize_flow
from worldssm.models.vfimamba import VFIMamba, laplacian_l1, pad_to_multiple

PRESETS = [
    "vfimamba_tiny",
    "vfimamba_s",
    "vfimamba",
    "vfiflow_conv_tiny",
    "vfiflow_conv_s",
    "vfiflow_conv",
]


def _count(name: str) -> int:
    with torch.device("meta"):  # no memory, no init cost
        model = worldssm.create_model(name)
    assert isinstance(model, VFIMamba) and model.cfg.width > 0
    return sum(p.numel() for p in model.parameters())


def test_presets_build_with_paper_sizes():
    counts = {name: _count(name) for name in PRESETS}
    assert 15e6 < counts["vfimamba_s"] < 19e6  # paper: ~17M
    assert 60e6 < counts["vfimamba"] < 72e6  # paper: ~66M
    assert counts["vfimamba_tiny"] < 5e6
    # The conv baseline has the same widths and depths: within 10% of the SSM model.
    assert abs(counts["vfiflow_conv_s"] / counts["vfimamba_s"] - 1) < 0.1
    assert abs(counts["vfiflow_conv"] / counts["vfimamba"] - 1) < 0.1
    assert _count("vfimamba-s") == counts["vfimamba_s"]  # hyphenated names work too
    assert worldssm.registry.model_config("vfimamba-s") == worldssm.registry.model_config(
        "vfimamba_s"
    )
    conv = worldssm.registry.model_config("vfiflow-conv-s")
    assert conv.mixer == "conv" and conv.width == 16


def _pair(b=2, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 3, h, w, generator=g)


@pytest.mark.parametrize("name", ["vfimamba_tiny", "vfiflow_conv_tiny"])
def test_forward_backward_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = worldssm.create_model(name)
    img0, img1 = _pair()
    target = torch.rand_like(img0)
    pred, aux = model(img0, img1, torch.tensor([0.25, 0.7]), return_aux=True)
    assert pred.shape == img0.shape and torch.isfinite(pred).all()
    assert pred.min() >= 0 and pred.max() <= 1
    assert aux["flow"].shape == (2, 4, 32, 48) and aux["mask"].shape == (2, 1, 32, 48)
    assert aux["mask"].min() >= 0 and aux["mask"].max() <= 1
    assert len(aux["merged_stages"]) == 2
    loss = laplacian_l1(pred, target) + sum(laplacian_l1(m, target) for m in aux["merged_stages"])
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname
    groups = {g["name"] for g in param_groups(model, weight_decay=0.05)}
    assert ("ssm" in groups) == (model.cfg.mixer == "ssm")


def test_timestep_float_tensor_and_scale():
    torch.manual_seed(0)
    model = worldssm.create_model("vfimamba_tiny").eval()
    img0, img1 = _pair(h=64, w=64)
    with torch.no_grad():
        a = model(img0, img1, 0.3)
        b = model(img0, img1, torch.tensor([0.3, 0.3]))
        c = model(img0, img1, torch.tensor([0.3, 0.9]))
        half = model(img0, img1, 0.5, scale=0.5)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(c[0], a[0])
    assert (c[1] - a[1]).abs().max() > 1e-4  # t is an input: another t, another frame
    assert half.shape == img0.shape and torch.isfinite(half).all()


def test_bf16_autocast_cpu():
    torch.manual_seed(0)
    model = worldssm.create_model("vfimamba_tiny")
    img0, img1 = _pair(b=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred, aux = model(img0, img1, 0.5, return_aux=True)
    assert pred.shape == img0.shape and torch.isfinite(pred).all()
    assert aux["flow"].dtype == torch.float32  # flows accumulate in float32
    pred.float().mean().backward()


def test_mixed_block_mixes_the_two_frames():
    torch.manual_seed(0)
    for mixer in ("ssm", "conv"):
        block = MixedSSMBlock(16, mixer=mixer, d_state=4)
        x = torch.randn(4, 16, 5, 7)  # (2B, C, h, w): frames 0 of B=2 samples, then frames 1
        y = block(x)
        x2 = x.clone()
        x2[2:] += torch.randn(2, 16, 5, 7)  # change frame 1 only
        y2 = block(x2)
        assert y.shape == x.shape
        assert (y2[:2] - y[:2]).abs().max() > 1e-4, mixer  # frame 0's output sees frame 1


def test_backward_warp_zero_and_integer_flow():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 6, 9)
    zero = torch.zeros(2, 2, 6, 9)
    torch.testing.assert_close(backward_warp(img, zero), img, atol=1e-6, rtol=0)
    flow = torch.zeros(2, 2, 6, 9)
    flow[:, 0] = 2.0  # sample 2 pixels to the right
    flow[:, 1] = -1.0  # and 1 pixel up
    out = backward_warp(img, flow)
    torch.testing.assert_close(out[..., 1:, :7], img[..., :5, 2:], atol=1e-5, rtol=0)
    # Outside the image: border padding repeats the edge pixels.
    torch.testing.assert_close(out[..., 1:, 8], img[..., :5, 8], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[..., 0, :7], img[..., 0, 2:], atol=1e-5, rtol=0)
    half = resize_flow(flow, (3, 3))  # vectors shrink with the grid: x by 3, y by 2
    torch.testing.assert_close(half[:, 0], torch.full((2, 3, 3), 2 / 3))
    torch.testing.assert_close(half[:, 1], torch.full((2, 3, 3), -0.5))
    with pytest.raises(ValueError, match="flow"):
        backward_warp(img, torch.zeros(2, 3, 6, 9))


def test_bf16_warp_is_exact_on_wide_frames():
    # A bf16 sampling grid would be off by up to W/256 pixels; the warp samples in float32.
    img = torch.rand(1, 2, 4, 600).bfloat16()
    flow = torch.zeros(1, 2, 4, 600)
    flow[:, 0] = 3.0
    out = backward_warp(img, flow)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out[..., :597], img[..., 3:], atol=1e-3, rtol=0)


def test_clear_errors():
    model = worldssm.create_model("vfimamba_tiny")
    img0, img1 = _pair(b=1)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(img0[:, :1], img1[:, :1], 0.5)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(img0, img1[..., :16], 0.5)
    for bad in (1.5, -0.1, torch.tensor([2.0]), float("nan")):
        with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
            model(img0, img1, bad)
    with pytest.raises(ValueError, match="t must be a float or a"):
        model(img0, img1, torch.tensor([0.5, 0.5]))
    odd0, odd1 = _pair(b=1, h=40, w=64)
    with pytest.raises(ValueError, match="multiples of 16.*[Pp]ad"):
        model(odd0, odd1, 0.5)
    with pytest.raises(ValueError, match="multiples of 16/scale"):
        model(img0, img1, 0.5, scale=0.25)
    with pytest.raises(ValueError, match="mixer"):
        worldssm.create_model("vfimamba_tiny", mixer="attention")


def test_pad_to_multiple_round_trip():
    x = torch.rand(2, 3, 37, 50)
    padded, (h, w) = pad_to_multiple(x, 16)
    assert padded.shape == (2, 3, 48, 64) and (h, w) == (37, 50)
    torch.testing.assert_close(padded[..., :h, :w], x)
    torch.testing.assert_close(padded[..., h:, :w], x[..., -1:, :].expand(2, 3, 11, 50))
    same, _ = pad_to_multiple(padded, 16)
    assert same is padded


def test_laplacian_l1():
    torch.manual_seed(0)
    for shape in [(2, 3, 32, 32), (1, 3, 37, 53)]:
        x = torch.rand(shape)
        assert laplacian_l1(x, x.clone()).item() == 0.0
        y = x.clone()
        y[..., 5, 7] += 0.5  # one pixel differs
        assert laplacian_l1(y, x).item() > 0
        assert laplacian_l1(x + 0.1, x).item() > 0  # a constant offset lives in the low-pass
    with pytest.raises(ValueError, match="one shape"):
        laplacian_l1(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_speed_benchmark_quick(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "vfi_speed.py"
    spec = importlib.util.spec_from_file_location("bench_vfi_speed", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "speed.json"
    assert mod.main(["--quick", "--precisions", "fp32", "--fast-path", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "vfi_speed" and result["device"] and result["date"]
    rows = {(r["model"], r["path"]): r for r in result["results"]}
    for name in ("vfimamba_tiny", "vfiflow_conv_tiny"):
        for path in ("reference", "fast"):
            assert rows[name, path]["frames_per_s"] > 0 and rows[name, path]["padded"] == [64, 96]
        # The fast rows are checked against the reference rows of the same run.
        assert rows[name, "fast"]["max_abs_diff_vs_first_variant"] < 1e-4


def test_shipped_checkpoint_loads_and_matches_the_gathered_scan_path(monkeypatch):
    from pathlib import Path

    from worldssm.layers.ss2d import SS2D
    from worldssm.train.vfi_inference import load_interpolator

    path = Path(__file__).resolve().parents[2] / "assets" / "vfimamba_s" / "model.pt"
    model, _ = load_interpolator(path)
    img0, img1 = _pair(b=1, h=32, w=48, seed=4)
    with torch.no_grad():
        pred, aux = model(img0, img1, 0.5, return_aux=True)
        monkeypatch.setattr(SS2D, "gather_directions", True)
        ref, ref_aux = model(img0, img1, 0.5, return_aux=True)
    torch.testing.assert_close(pred, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(aux["flow"], ref_aux["flow"], atol=1e-4, rtol=1e-4)
    assert (pred - (img0 + img1) / 2).abs().mean() > 1e-3  # the trained model does something


def test_mixed_block_grads_match_the_gathered_scan_path(monkeypatch):
    from worldssm.layers.ss2d import SS2D

    torch.manual_seed(0)
    block = MixedSSMBlock(8, d_state=4).double()
    x = torch.randn(2, 8, 3, 5, dtype=torch.float64)
    results = []
    for patch in (False, True):
        if patch:
            monkeypatch.setattr(SS2D, "gather_directions", True)
        xi = x.clone().requires_grad_()
        y = block(xi)
        grads = torch.autograd.grad(y.square().sum(), [xi, *block.parameters()])
        results.append([y, *grads])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
