"""The inference forward ``triton_seq`` (one thread per channel, time chunks) against the naive
loop: strided (channels-last) inputs, chunking, reverse groups, shared u, bf16."""

import pytest
import torch

from worldssm.kernels import selective_scan
from worldssm.kernels.backend import triton_available
from worldssm.kernels.selective_scan import triton_seq

pytestmark = pytest.mark.skipif(not triton_available(), reason="needs triton")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: the Triton interpreter


def rel_err(x, ref):
    x, ref = x.detach().cpu().double(), ref.detach().cpu().double()
    return ((x - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def inputs(bsz=2, d=32, du=16, length=37, n=5, groups=2, seed=0, options=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return {
        "u": r(bsz, du, length),
        "delta": r(bsz, d, length) * 0.5,
        "A": -torch.rand(d, n, generator=g) - 0.1,
        "B": r(bsz, groups, n, length),
        "C": r(bsz, groups, n, length),
        "D": r(d) if options else None,
        "z": r(bsz, d, length) if options else None,
        "delta_bias": r(d) * 0.3 if options else None,
        "h0": r(bsz, d, n) if options else None,
    }


def channels_last(x):
    """(B, C, L) with the same values over (B, L, C) memory."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


CONFIGS = {"one-chunk": (16, 1, 1000), "chunks-of-8": (16, 1, 8), "chunks-of-1": (8, 1, 1)}


@pytest.mark.parametrize("layout", ["contiguous", "channels-last"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("reverse", [[False, True], [True, False]])
def test_seq_matches_naive(monkeypatch, config, layout, reverse):
    monkeypatch.setattr(triton_seq, "SEQ_CONFIG", CONFIGS[config])
    x = inputs(length=37 if config != "chunks-of-1" else 9)
    ref, ref_last = selective_scan(**x, delta_softplus=True, return_final=True, backend="naive",
                                   reverse=reverse)  # fmt: skip
    xs = {k: None if v is None else v.to(DEVICE) for k, v in x.items()}
    if layout == "channels-last":
        for k in ("u", "delta", "z"):
            xs[k] = channels_last(xs[k])
        xs["B"], xs["C"] = (t.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
                            for t in (xs["B"], xs["C"]))  # fmt: skip
    with torch.no_grad():
        out, last = selective_scan(**xs, delta_softplus=True, return_final=True,
                                   backend="triton", reverse=reverse)  # fmt: skip
    assert out.stride() == xs["delta"].stride()  # out follows delta's memory layout
    assert rel_err(out, ref) < 1e-5 and rel_err(last, ref_last) < 1e-5


@pytest.mark.parametrize("case", ["bare", "L1", "odd-n", "even-n"])
def test_seq_small_cases(monkeypatch, case):
    monkeypatch.setattr(triton_seq, "SEQ_CONFIG", (16, 1, 4))
    kw = {"bare": dict(options=False), "L1": dict(length=1), "odd-n": dict(n=3, d=48),
          "even-n": dict(n=8)}[case]  # fmt: skip  # even-n: unmasked B/C rows (EVEN_N)
    x = inputs(**kw)
    softplus = case != "bare"
    ref = selective_scan(**x, delta_softplus=softplus, return_final=True, backend="naive")
    xs = {k: None if v is None else v.to(DEVICE) for k, v in x.items()}
    with torch.no_grad():
        got = selective_scan(**xs, delta_softplus=softplus, return_final=True, backend="triton")
    assert rel_err(got[0], ref[0]) < 1e-5 and rel_err(got[1], ref[1]) < 1e-5


def test_seq_bf16_inputs(monkeypatch):
    monkeypatch.setattr(triton_seq, "SEQ_CONFIG", (16, 1, 8))
    x = inputs(seed=2)
    x16 = {k: None if v is None else v.to(torch.bfloat16) for k, v in x.items()}
    x16["A"] = x["A"]
    ref = selective_scan(**{k: None if v is None else v.float() for k, v in x16.items()},
                         delta_softplus=True, backend="naive")  # fmt: skip
    with torch.no_grad():
        out = selective_scan(**{k: None if v is None else v.to(DEVICE) for k, v in x16.items()},
                             delta_softplus=True, backend="triton")  # fmt: skip
    assert out.dtype == torch.bfloat16
    assert rel_err(out, ref) < 1e-2  # the output's own bf16 rounding


def test_seq_config_keeps_one_group_per_program(monkeypatch):
    monkeypatch.setattr(triton_seq, "SEQ_CONFIG", (128, 4, 256))
    assert triton_seq.seq_config(d_per_group=48, length=1000, rows=96) == (16, 1, 256)
    assert triton_seq.seq_config(d_per_group=256, length=100, rows=512) == (128, 4, 100)


def test_seq_config_sizes_chunks_for_the_target_programs(monkeypatch):
    monkeypatch.setattr(triton_seq, "SEQ_CONFIG", (32, 1, 0))
    # VFIMamba-S 1080p: 1,024 channels x 65,280 steps and 2,048 x 16,320 -> 2,048 programs
    assert triton_seq.seq_config(256, 65280, rows=1024) == (32, 1, 1024)
    assert triton_seq.seq_config(512, 16320, rows=2048) == (32, 1, 512)
    assert triton_seq.seq_config(256, 100, rows=8)[2] == 64  # chunks never below 64 steps
