"""VFIMamba's inference fast path (prepare_for_inference) against the reference forward."""

import copy

import pytest
import torch

import worldssm
from worldssm.layers.ss2d import SS2D
from worldssm.models.vfi_blocks import MixedSSMBlock


def _pair(b=2, h=48, w=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 3, h, w, generator=g)


def _models(name, dtype, channels_last=True):
    torch.manual_seed(0)
    ref = worldssm.create_model(name).eval()
    return ref, copy.deepcopy(ref).prepare_for_inference(dtype, channels_last=channels_last)


@pytest.mark.parametrize("name", ["vfimamba_tiny", "vfiflow_conv_tiny"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_fast_fp32_equals_reference(name, channels_last):
    ref, fast = _models(name, torch.float32, channels_last)
    img0, img1 = _pair()  # 48 x 80: not a power of two, W != H
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        want, want_aux = ref(img0, img1, t, return_aux=True)
        got, aux = fast(img0, img1, t, return_aux=True)
    assert got.dtype == torch.float32 and got.shape == img0.shape
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    for key in ("flow", "mask", "merged"):
        torch.testing.assert_close(aux[key], want_aux[key], atol=1e-4, rtol=1e-4)
    for a, b in zip(aux["merged_stages"], want_aux["merged_stages"], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_fast_bf16_close_to_reference_and_float32_out():
    ref, fast = _models("vfimamba_tiny", torch.bfloat16)
    img0, img1 = _pair(b=1, h=64, w=96, seed=1)
    with torch.no_grad():
        want = ref(img0, img1, 0.5)
        got, aux = fast(img0, img1, 0.5, return_aux=True)
        half = fast(img0, img1, 0.5, scale=0.5)
    assert got.dtype == aux["flow"].dtype == torch.float32  # frames in, float32 frames out
    err = (got - want).abs()
    assert err.max() < 0.05 and err.mean() < 5e-3, (err.max().item(), err.mean().item())
    assert half.shape == img0.shape and torch.isfinite(half).all()


def test_prepare_casts_weights_keeps_scan_params_and_layout():
    _, fast = _models("vfimamba_tiny", torch.bfloat16)
    assert not fast.training and fast.inference_dtype == torch.bfloat16 and fast.channels_last
    for name, p in fast.named_parameters():
        scan_param = name.rsplit(".", 1)[-1] in SS2D.ssm_param_names
        assert p.dtype == (torch.float32 if scan_param else torch.bfloat16), name
        if p.dim() == 4 and p.shape[1] > 1 and p.shape[2:] != (1, 1):
            assert p.is_contiguous(memory_format=torch.channels_last), name


def test_fast_path_is_batch_invariant():
    _, fast = _models("vfimamba_tiny", torch.float32)
    img0, img1 = _pair(b=3, h=32, w=48, seed=2)
    t = torch.tensor([0.2, 0.5, 0.9])
    with torch.no_grad():
        out = fast(img0, img1, t)
        for i in range(3):
            one = fast(img0[i : i + 1], img1[i : i + 1], t[i : i + 1])
            torch.testing.assert_close(one, out[i : i + 1], atol=1e-5, rtol=0)


def test_reference_path_still_trains_after_a_prepared_copy():
    ref, _ = _models("vfimamba_tiny", torch.bfloat16)
    assert all(p.dtype == torch.float32 for p in ref.parameters())  # the copy was prepared
    ref.train()
    img0, img1 = _pair(b=1, h=32, w=48)
    ref(img0, img1, 0.5).mean().backward()
    assert all(p.grad is not None for p in ref.parameters())


@pytest.mark.parametrize("mixer", ["ssm", "conv"])
def test_mixed_block_channels_last_input_and_grads(mixer):
    torch.manual_seed(0)
    block = MixedSSMBlock(8, mixer=mixer, d_state=4).double()
    x = torch.randn(4, 8, 3, 5, dtype=torch.float64)  # (2B, C, h, w), B = 2
    outs = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        xi = x.contiguous(memory_format=fmt).requires_grad_()
        y = block(xi)
        outs.append([y, *torch.autograd.grad(y.square().sum(), [xi, *block.parameters()])])
    assert outs[1][0].is_contiguous(memory_format=torch.channels_last)  # stays NHWC
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_graphed_wrapper_static_buffers_equal_forward():
    from worldssm.models.vfimamba import GraphedVFIMamba

    _, fast = _models("vfimamba_tiny", torch.float32)
    img0, img1 = _pair(b=2, h=32, w=48, seed=3)
    runner = GraphedVFIMamba(fast, img0.shape, "cpu", capture=False)  # eager on CPU
    t = torch.tensor([0.25, 0.75])
    with torch.no_grad():
        want = fast(img0, img1, t)
    torch.testing.assert_close(runner(img0, img1, t), want, atol=0, rtol=0)
    with pytest.raises(ValueError, match="captured for"):
        runner(img0[:1], img1[:1], 0.5)
    with pytest.raises(ValueError, match="t must lie"):
        runner(img0, img1, 1.5)


def test_frame_interpolator_graph_path_equals_eager():
    # Full batches go through GraphedVFIMamba (its static-buffer code, eager on the CPU), the
    # last partial batch eagerly; odd frame sizes are padded and cropped back either way.
    from worldssm.train.vfi_inference import FrameInterpolator

    _, fast = _models("vfimamba_tiny", torch.float32)
    g = torch.Generator().manual_seed(3)
    img0 = torch.randint(0, 256, (5, 3, 37, 70), generator=g, dtype=torch.uint8)
    img1 = torch.randint(0, 256, (5, 3, 37, 70), generator=g, dtype=torch.uint8)
    t = torch.tensor([0.2, 0.5, 0.7, 0.5, 0.9])
    eager = FrameInterpolator(fast, batch_size=2, amp=False, graph=False)(img0, img1, t)
    graphed = FrameInterpolator(fast, batch_size=2, amp=False, graph=True)
    got = graphed(img0, img1, t)
    assert len(graphed._runners) == 1  # one padded size, full batches only
    torch.testing.assert_close(got, eager, atol=1e-5, rtol=0)
    assert got.shape == (5, 3, 37, 70)


def test_frame_interpolator_graph_needs_a_prepared_vfimamba():
    from worldssm.train.vfi_inference import FrameInterpolator

    ref, _ = _models("vfimamba_tiny", torch.float32)
    with pytest.raises(ValueError, match="graph=True needs a VFIMamba prepared"):
        FrameInterpolator(ref, amp=True, graph=True)
