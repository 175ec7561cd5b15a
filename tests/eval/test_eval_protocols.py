"""Protocols (TECO, Moving-MNIST, per-frame curves) and reports, with stand-in networks."""

import csv
import json
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from worldssm.eval import AlexNetLPIPS, psnr
from worldssm.eval import protocols as P
from worldssm.eval.perceptual import lpips_heads_path
from worldssm.eval.report import write_report
from worldssm.eval.video_io import read_video


class Synthetic(Sequence):
    """Deterministic uint8 videos made on demand; ``noisy_from`` adds noise from that frame on."""

    def __init__(self, n, t, c=3, size=32, noisy_from=None, garbage_until=0):
        self.n, self.t, self.c, self.size = n, t, c, size
        self.noisy_from, self.garbage_until = noisy_from, garbage_until

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        g = torch.Generator().manual_seed(i)
        base = torch.randint(0, 200, (1, self.c, self.size, self.size), generator=g)
        drift = torch.arange(self.t).view(-1, 1, 1, 1) % 50
        v = base + drift
        if self.noisy_from is not None:
            noise = torch.randint(0, 6, v.shape, generator=g)
            noise[: self.noisy_from] = 0
            v = v + noise * (1 + 20 * torch.arange(self.t).view(-1, 1, 1, 1) // self.t)
        v = v.clamp(0, 255).to(torch.uint8)
        v[: self.garbage_until] = 7
        return v


class MeanModel(torch.nn.Module):
    """Stand-in feature network: per-channel mean and std of a video (6 features)."""

    def forward(self, x):
        return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4))], dim=1)


@pytest.fixture(scope="module")
def lpips_model():
    torch.manual_seed(0)
    model = AlexNetLPIPS()
    model.load_heads(lpips_heads_path())
    return model


def test_teco_frame_metrics(lpips_model):
    real = Synthetic(2, 300, size=32)
    fake = Synthetic(2, 300, size=32, noisy_from=150)
    r = P.teco_frame_metrics(real, fake, lpips_model=lpips_model, progress=False)
    assert r.first_frame == 144 and r.values["psnr"].shape == (2, 156)
    assert (
        torch.isinf(r.values["psnr"][:, :6]).all() and torch.isfinite(r.values["psnr"][:, 6:]).all()
    )
    curve = r.curves()["psnr"][6:]
    assert curve[0] > curve[-1]  # noise grows with the horizon
    # only the 156 predicted frames: same numbers
    pred_only = P.Frames(fake, 144)
    r2 = P.teco_frame_metrics(real, pred_only, lpips_model=lpips_model, progress=False)
    for k in r.values:
        torch.testing.assert_close(r2.values[k], r.values[k])
    expect = psnr(fake[1][144:], real[1][144:])
    torch.testing.assert_close(r.values["psnr"][1], expect)
    with pytest.raises(ValueError, match="300"):
        P.teco_frame_metrics(Synthetic(2, 200), Synthetic(2, 200), progress=False)
    with pytest.raises(ValueError, match="at least 31x31"):
        P.frame_metrics(
            Synthetic(1, 3, size=16),
            Synthetic(1, 3, size=16),
            progress=False,
            lpips_model=lpips_model,
        )


def test_teco_fvd_chunks_and_context():
    kw = dict(model=MeanModel(), resolution=8, progress=False)
    real = Synthetic(20, 300, c=1, size=16)
    fake = Synthetic(20, 300, c=1, size=16, noisy_from=36, garbage_until=36)
    out = P.teco_fvd(real, fake, chunk=8, **kw)
    assert out["chunk_size"] == 8 and len(out["chunks"]) == 2
    assert out["videos_used"] == 16 and out["videos_dropped"] == 4
    assert out["mean"] == pytest.approx(np.mean(out["chunks"]))
    assert out["std"] == pytest.approx(np.std(out["chunks"])) and out["mean"] > 0
    # the garbage context was replaced by the real one: same as a clean fake, or only 264 frames
    clean_fake = Synthetic(20, 300, c=1, size=16, noisy_from=36)
    clean = P.teco_fvd(real, clean_fake, chunk=8, **kw)
    gen_only = P.teco_fvd(real, P.Frames(clean_fake, 36), chunk=8, **kw)
    assert out["chunks"] == pytest.approx(clean["chunks"])
    assert gen_only["chunks"] == pytest.approx(clean["chunks"])
    with pytest.raises(ValueError, match="at least 256"):
        P.teco_fvd(Synthetic(10, 300), Synthetic(10, 300), **kw)


def test_moving_mnist_horizons(lpips_model):
    real = Synthetic(3, 30, c=1, size=32)
    fake = Synthetic(3, 30, c=1, size=32, noisy_from=10)
    r, summary = P.moving_mnist(
        real,
        fake,
        context=10,
        horizons=(5, 10, 40),
        with_fvd=True,
        frame_kwargs=dict(lpips_model=lpips_model, progress=False),
        fvd_kwargs=dict(model=MeanModel(), resolution=8, progress=False),
    )
    assert r.first_frame == 10 and r.values["ssim"].shape == (3, 10)
    assert set(summary) == {f"{m}@{h}" for m in ("psnr", "ssim", "lpips", "fvd") for h in (5, 10)}
    assert summary["psnr@5"] == pytest.approx(float(r.values["psnr"][:, :5].mean()))
    assert summary["psnr@5"] > summary["psnr@10"]
    assert summary["fvd@10"] > 0


def test_report_files(tmp_path, lpips_model):
    real, fake = Synthetic(3, 20, size=32), Synthetic(3, 20, size=32, noisy_from=5)
    frames = P.frame_metrics(
        P.Frames(real, 5), P.Frames(fake, 5), lpips_model=lpips_model, progress=False
    )
    frames.first_frame = 5
    metrics = {"metrics": frames.summary(), "note": float("inf")}
    out = write_report(tmp_path / "rep", metrics, frames, real, fake, title="test")
    data = json.loads((out / "metrics.json").read_text())
    assert data["note"] == "inf" and set(data["metrics"]) == {"psnr", "ssim", "lpips"}
    rows = list(csv.reader(open(out / "per_frame.csv")))
    assert rows[0][0] == "frame" and len(rows) == 16 and rows[1][0] == "5"
    assert (out / "horizon.png").read_bytes()[:4] == b"\x89PNG"
    grid = read_video(out / "grid.mp4")
    assert grid.shape == (20, 3 * 32 + 2 * 2, 2 * 32 + 2, 3)


# -- model evaluation (eval/model_eval.py) with a stand-in predictor ---------------------------


class Persistence(torch.nn.Module):
    """Stand-in frame predictor: every prediction is the last frame seen (models.base contract)."""

    def __init__(self, c=3, size=32, action_dim=0):
        super().__init__()
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(image_channels=c, image_size=size, action_dim=action_dim)

    def forward(self, frames, actions=None, return_state=False):
        return (frames, None) if return_state else frames

    def step(self, state, frame, action=None):
        return frame, state


def _clips(source):
    return [{"frames": source[i]} for i in range(len(source))]


def test_make_plan_and_fvd_skip_reason():
    from worldssm.eval.model_eval import make_plan

    teco = make_plan("teco-dmlab")
    assert [(g.context, g.horizon) for g in teco.generations] == [(36, 264), (144, 156)]
    assert teco.generations[0].fvd == (("fvd", 300),) and teco.generations[1].frame_metrics
    assert teco.clip_length == 300 and teco.fvd_chunk == 256
    mm = make_plan("moving-mnist")
    assert mm.generations[0].context == 100 and mm.generations[0].horizon == 1200
    assert mm.clip_length == 1300 and mm.horizons == (400, 800, 1200)
    assert make_plan("moving-mnist", 5, [8, 4]).generations[0].fvd == (("fvd@4", 9), ("fvd@8", 13))
    with pytest.raises(ValueError, match="custom"):
        make_plan("teco-dmlab", context=4)
    with pytest.raises(ValueError, match="--horizon"):
        make_plan("custom", 4)
    assert "256" in fvd_skip_reason(teco, 255) and fvd_skip_reason(teco, 256) is None
    assert "full-rank" in fvd_skip_reason(make_plan("custom", 4, [8]), 400)
    assert fvd_skip_reason(make_plan("custom", 4, [8], allow_rank_deficient=True), 3) is None
    assert fvd_skip_reason(make_plan("custom", 4, [8]), 401) is None


def fvd_skip_reason(plan, n):
    from worldssm.eval.model_eval import fvd_skip_reason as reason

    return reason(plan, n)


def test_evaluate_model_teco_frames_are_the_156_after_144(lpips_model):
    from worldssm.eval.model_eval import evaluate_model, make_plan

    real = Synthetic(3, 310, size=32)  # longer than 300: only the first 300 are used
    scores = evaluate_model(
        Persistence(), _clips(real), make_plan("teco-dmlab"), ["psnr", "ssim"], gen_batch_size=2,
        device="cpu", progress=False,
    )  # fmt: skip
    assert scores.videos == 3 and scores.frames.first_frame == 144
    assert scores.frames.values["psnr"].shape == (3, 156)
    expect = psnr(real[2][143:144].expand(156, -1, -1, -1), real[2][144:300])
    torch.testing.assert_close(scores.frames.values["psnr"][2], expect)
    assert scores.summary["psnr"] == pytest.approx(float(scores.frames.values["psnr"].mean()))
    assert scores.grid_real.shape == scores.grid_fake.shape == (3, 300, 3, 32, 32)
    assert torch.equal(scores.grid_fake[0, :144], real[0][:144])
    assert torch.equal(scores.grid_fake[0, 299], real[0][143])


def test_evaluate_model_fvd_matches_the_folder_protocol(lpips_model):
    from worldssm.eval.model_eval import evaluate_model, make_plan

    real = Synthetic(5, 14, c=1, size=32)
    plan = make_plan("moving-mnist", 4, [5, 10])
    scores = evaluate_model(
        Persistence(c=1), _clips(real), plan, gen_batch_size=2, batch_size=1, device="cpu",
        lpips_model=lpips_model, i3d_model=MeanModel(), progress=False,
    )  # fmt: skip
    fake = torch.stack([torch.cat([v[:4], v[3:4].expand(10, -1, -1, -1)]) for v in real])
    reals = torch.stack(list(real))
    _, expect = P.moving_mnist(
        reals, fake, 4, (5, 10), with_fvd=True,
        frame_kwargs=dict(lpips_model=lpips_model, progress=False),
        fvd_kwargs=dict(model=MeanModel(), progress=False),
    )  # fmt: skip
    assert set(scores.summary) == {k for k in expect}
    fvds = [scores.summary[f"fvd@{h}"]["value"] for h in (5, 10)]
    assert fvds[1] > 0 and fvds[0] != fvds[1]
    for key, value in expect.items():
        got = scores.summary[key]
        got = got["value"] if isinstance(got, dict) else got
        assert got == pytest.approx(value, rel=1e-6), key


def test_evaluate_model_checks_the_data():
    from worldssm.eval.model_eval import evaluate_model, make_plan

    plan = make_plan("custom", 2, [3])
    clips = _clips(Synthetic(2, 5, size=32))
    with pytest.raises(ValueError, match="model takes"):
        evaluate_model(Persistence(size=16), clips, plan, ["psnr"], progress=False)
    with pytest.raises(ValueError, match="no actions"):
        evaluate_model(Persistence(action_dim=3), clips, plan, ["psnr"], progress=False)
    with pytest.raises(ValueError, match="not a frame predictor"):
        evaluate_model(torch.nn.Linear(2, 2), clips, plan, ["psnr"], progress=False)
