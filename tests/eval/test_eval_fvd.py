"""FVD: Fréchet distance against scipy, I3D shapes and weight formats, streaming and caching."""

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from worldssm.eval import InceptionI3d, frechet_distance, fvd, i3d_features, load_i3d
from worldssm.eval.video_distance import frechet_distance_from_stats, preprocess_i3d
from worldssm.eval.weights import WeightsNotFoundError, find_i3d_weights


def _scipy_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """The usual reference (pytorch-fid): scipy.linalg.sqrtm of the covariance product."""
    from scipy import linalg

    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n,d", [(600, 400), (300, 40)])
def test_frechet_matches_scipy(n, d):
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal((n, d)) @ mix
    y = rng.standard_normal((n, d)) @ (mix + 0.1 * rng.standard_normal((d, d))) + 0.3
    ours = frechet_distance(torch.from_numpy(x), torch.from_numpy(y))
    ref = _scipy_frechet(x, y)
    assert ours == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(0, abs=1e-8)


def test_frechet_closed_form_and_rank_deficient():
    # diagonal Gaussians: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 0.0])
    got = frechet_distance_from_stats(mu1, torch.diag(a), mu2, torch.diag(b))
    assert got == pytest.approx(5.0 + 1.0 + 0.0 + 4.0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((256, 400)), rng.standard_normal((256, 400)) + 0.05
    with pytest.raises(ValueError, match="at least 401"):
        frechet_distance(torch.from_numpy(x), torch.from_numpy(y))
    ours = frechet_distance(torch.from_numpy(x), torch.from_numpy(y), allow_rank_deficient=True)
    assert ours == pytest.approx(_scipy_frechet(x, y), rel=1e-5)


def test_preprocess_range_size_and_grey():
    v = torch.full((2, 9, 1, 64, 64), 255, dtype=torch.uint8)
    x = preprocess_i3d(v)
    assert x.shape == (2, 3, 9, 224, 224) and torch.allclose(x, torch.ones_like(x))
    with pytest.raises(ValueError, match="data_range"):
        preprocess_i3d(torch.rand(1, 9, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, T, C, H, W\)"):
        preprocess_i3d(torch.zeros(1, 9, 8, 8, 3, dtype=torch.uint8))


@pytest.fixture(scope="module")
def random_i3d():
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    for m in model.modules():  # keep activations O(1); random BN statistics get loaded too
        if isinstance(m, torch.nn.Conv3d):
            torch.nn.init.kaiming_normal_(m.weight)
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def videos():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 9, 3, 32, 32), generator=g, dtype=torch.uint8)


def test_i3d_shapes_and_errors(random_i3d, videos):
    with torch.inference_mode():
        out = random_i3d(preprocess_i3d(videos[:2]))
    assert out.shape == (2, 400) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="at least 9 frames"):
        random_i3d(torch.zeros(1, 3, 8, 224, 224))
    with pytest.raises(ValueError, match="193x193"):
        random_i3d(torch.zeros(1, 3, 9, 64, 64))


def test_weight_formats_load(random_i3d, videos, tmp_path):
    x = preprocess_i3d(videos[:1])
    with torch.inference_mode():
        expect = random_i3d(x)
    # 1. a plain state dict (the i3d_pretrained_400.pt format), without num_batches_tracked
    sd = {k: v for k, v in random_i3d.state_dict().items() if "num_batches" not in k}
    torch.save(sd, tmp_path / "i3d_pretrained_400.pt")
    # 2. wrapped and DataParallel-prefixed
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "dp.pt")
    # 3. TorchScript with StyleGAN-V's call signature

    class Detector(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(
            self, x, rescale: bool = True, resize: bool = True, return_features: bool = False
        ):
            assert not rescale and not resize and return_features
            return self.inner(x)

    scripted = torch.jit.script(Detector(torch.jit.trace(random_i3d, x, check_trace=False)))
    scripted.save(str(tmp_path / "i3d_torchscript.pt"))
    for name in ("i3d_pretrained_400.pt", "dp.pt", "i3d_torchscript.pt"):
        with torch.inference_mode():
            got = load_i3d(tmp_path / name)(x)
        torch.testing.assert_close(got, expect, rtol=1e-4, atol=1e-4, msg=name)
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not an I3D"):
        load_i3d(tmp_path / "bad.pt")


def test_missing_i3d_weights(tmp_path, monkeypatch, videos):
    monkeypatch.setenv("WORLDSSM_CACHE", str(tmp_path))
    monkeypatch.delenv("WORLDSSM_I3D_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError, match="i3d_pretrained_400.pt"):
        find_i3d_weights()
    with pytest.raises(WeightsNotFoundError, match="No I3D weights are on PyPI"):
        i3d_features(videos, progress=False)


def test_fvd_end_to_end_with_weights_file_and_cache(random_i3d, videos, tmp_path, monkeypatch):
    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(random_i3d.state_dict(), path)
    monkeypatch.setenv("WORLDSSM_I3D_WEIGHTS", str(path))
    with pytest.raises(ValueError, match="full-rank"):  # raised before any feature is computed
        fvd(videos, videos, progress=False)
    kw = dict(batch_size=2, progress=False, cache_dir=tmp_path / "cache")
    feats = i3d_features(videos, **kw)
    assert feats.shape == (3, 400) and feats.dtype == torch.float64
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
    assert fvd(videos, videos // 2, allow_rank_deficient=True, **kw) > 0.1

    def fail(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr("worldssm.eval.video_distance.load_i3d", fail)
    torch.testing.assert_close(i3d_features(videos, **kw), feats)
    same = fvd(videos, videos, allow_rank_deficient=True, **kw)
    assert same == pytest.approx(0.0, abs=1e-6)


class LazyVideos(Sequence):
    """Videos made on demand; records the most videos alive in one batch."""

    def __init__(self, n: int, shift: float = 0.0):
        self.n, self.shift = n, shift

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        v = torch.rand(9, 3, 8, 8, generator=g) * (1 - self.shift) + self.shift
        return v


class MeanModel(torch.nn.Module):
    """A stand-in feature network: per-channel means and spreads (6 features)."""

    def __init__(self, max_batch: int):
        super().__init__()
        self.max_batch, self.seen = max_batch, 0

    def forward(self, x):
        assert x.shape[0] <= self.max_batch
        self.seen += x.shape[0]
        return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4))], dim=1)


def test_streaming_many_videos_bounded_batches():
    model = MeanModel(max_batch=8)
    kw = dict(model=model, data_range=1.0, batch_size=8, resolution=16, progress=False)
    real, fake = LazyVideos(500), LazyVideos(500, shift=0.2)
    value = fvd(real, fake, **kw)
    assert model.seen == 1000 and value > 0.01
    assert fvd(real, LazyVideos(500), **kw) == pytest.approx(0.0, abs=1e-9)


def test_same_padding_matches_tensorflow():
    from worldssm.eval.i3d import _same_padding

    for size in range(1, 30):
        for k in (1, 2, 3, 7):
            for st in (1, 2):
                (before, after) = _same_padding((size,), (k,), (st,))
                out = -(-size // st)  # TF 'SAME': ceil(size / stride) outputs
                total = max((out - 1) * st + k - size, 0)
                assert (before, after) == (total // 2, total - total // 2)
                assert (size + before + after - k) // st + 1 == out
