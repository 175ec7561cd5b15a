"""PSNR and SSIM against torchmetrics, on random and real frames, and their input checks."""

import pytest
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from worldssm.eval import psnr, ssim


def _real_pairs(images) -> tuple[torch.Tensor, torch.Tensor]:
    ref, p0, p1 = images["ex_ref"], images["ex_p0"], images["ex_p1"]
    return torch.cat([p0, p1, ref]), torch.cat([ref, ref, ref.flip(-1)])


def _random_pairs(images=None) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 256, (2, 3, 3, 40, 48), generator=g, dtype=torch.uint8)
    noise = torch.randint(-30, 31, target.shape, generator=g)
    return (target.int() + noise).clamp(0, 255).to(torch.uint8), target


@pytest.mark.parametrize("pairs", [_real_pairs, _random_pairs])
def test_matches_torchmetrics(pairs, lpips_images):
    preds, target = pairs(lpips_images)
    flat_p = preds.reshape(-1, *preds.shape[-3:]).double() / 255
    flat_t = target.reshape(-1, *target.shape[-3:]).double() / 255
    ref_psnr = peak_signal_noise_ratio(
        flat_p, flat_t, data_range=1.0, reduction="none", dim=(1, 2, 3)
    )
    ref_ssim, ref_map = structural_similarity_index_measure(
        flat_p, flat_t, data_range=1.0, reduction="none", sigma=1.5, return_full_image=True
    )
    ref_valid = ref_map[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))  # TECO's valid-window SSIM
    ours_psnr, ours_ssim = psnr(preds, target), ssim(preds, target, padding="reflect")
    assert ours_psnr.shape == preds.shape[:-3] and ours_ssim.shape == preds.shape[:-3]
    torch.testing.assert_close(
        ours_psnr.flatten(), ref_psnr, rtol=1e-6, atol=0
    )  # torchmetrics: fp32 log
    torch.testing.assert_close(ours_ssim.flatten(), ref_ssim, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ssim(preds, target).flatten(), ref_valid, rtol=1e-9, atol=1e-9)
    assert not torch.allclose(ref_valid, ref_ssim, rtol=1e-6)  # the two conventions do differ


def test_value_ranges_agree(lpips_images):
    preds, target = _real_pairs(lpips_images)
    expect = ssim(preds, target)
    torch.testing.assert_close(
        ssim(preds.float() / 255, target.float() / 255, data_range=1.0),
        expect,
        rtol=1e-6,
        atol=1e-6,
    )
    torch.testing.assert_close(ssim(preds.float(), target.float(), data_range=255.0), expect)
    torch.testing.assert_close(
        psnr(preds.float(), target.float(), data_range=255.0), psnr(preds, target)
    )


def test_identical_and_grey():
    x = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    assert torch.isinf(psnr(x, x)).all()
    torch.testing.assert_close(ssim(x, x), torch.ones(4, dtype=torch.float64))
    assert (ssim(x, 255 - x) < 0.5).all()


def test_errors():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="data_range"):
        psnr(x, x)
    with pytest.raises(ValueError, match="outside"):
        ssim(x * 2 - 1, x, data_range=1.0)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:1], data_range=1.0)
    with pytest.raises(ValueError, match="channels-first"):
        psnr(x.permute(0, 2, 3, 1), x.permute(0, 2, 3, 1), data_range=1.0)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(x[..., :8, :8], x[..., :8, :8], data_range=1.0)
    u = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        psnr(u, u, data_range=1.0)
