"""selective_scan: fused and chunked paths against the naive loop; selective_step rollouts."""

import pytest
import torch

from worldssm.kernels import selective_scan, selective_step

CUDA = torch.cuda.is_available()
# Triton runs on CUDA, or on CPU in the interpreter (set by conftest when there is no GPU).
PATHS = [("torch", "cpu"), ("triton", "cuda" if CUDA else "cpu")]
NAMES = ["out", "last", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "dbias", "dh0"]


def rel_err(x, ref):
    x, ref = x.detach().cpu().double(), ref.detach().cpu().double()
    return ((x - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def make_inputs(bsz=2, d=8, length=19, n=4, groups=None, bc_const=False, seed=0, options=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    bc_shape = (d, n) if bc_const else (bsz, n, length) if groups is None else (
        bsz, groups, n, length)  # fmt: skip
    return {
        "u": r(bsz, d, length),
        "delta": r(bsz, d, length) * 0.5,
        "A": -torch.rand(d, n, generator=g, dtype=torch.float64) - 0.5,
        "B": r(*bc_shape),
        "C": r(*bc_shape),
        "D": r(d) if options else None,
        "z": r(bsz, d, length) if options else None,
        "delta_bias": r(d) * 0.3 if options else None,
        "h0": r(bsz, d, n) if options else None,
    }


def run(inputs, backend, device, dtype, softplus=True, seed=3):
    leaves = {k: None if v is None else v.to(device, dtype).requires_grad_()
              for k, v in inputs.items()}  # fmt: skip
    if "A" in leaves:
        leaves["A"] = inputs["A"].to(device, torch.float64 if dtype == torch.float64 else
                                     torch.float32).requires_grad_()  # fmt: skip
    out, last = selective_scan(**leaves, delta_softplus=softplus, return_final=True,
                               backend=backend)  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(out.shape, generator=g, dtype=torch.float64).to(device)
    wl = torch.randn(last.shape, generator=g, dtype=torch.float64).to(device)
    ((out.double() * w).sum() + (last.double() * wl).sum()).backward()
    grads = [None if leaves[k] is None else leaves[k].grad
             for k in ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "h0"]]  # fmt: skip
    return [out, last] + grads


CASES = {
    "all-options": dict(),
    "grouped": dict(groups=2),
    "bare": dict(options=False),
    "L1": dict(length=1),
    "odd-sizes": dict(d=6, length=40, n=3),
    "time-invariant-BC": dict(bc_const=True),
}


@pytest.mark.parametrize("backend,device", PATHS)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_naive_with_grads(backend, device, case):
    inputs = make_inputs(**CASES[case])
    softplus = case != "bare"
    got = run(inputs, backend, device, torch.float32, softplus)
    ref = run(inputs, "naive", "cpu", torch.float64, softplus)
    for name, x, r in zip(NAMES, got, ref, strict=True):
        if r is None:
            assert x is None, name
            continue
        assert x.shape == r.shape, name
        assert torch.isfinite(x).all(), name
        assert rel_err(x, r) < 1e-4, f"{name}: {rel_err(x, r)}"


@pytest.mark.parametrize("backend,device", PATHS)
def test_bf16_inputs(backend, device):
    inputs = make_inputs(length=33)
    bf = {k: None if v is None else v.to(torch.bfloat16).double() for k, v in inputs.items()}
    got = run(bf, backend, device, torch.bfloat16)
    ref = run(bf, "naive", "cpu", torch.float64)
    assert got[0].dtype == torch.bfloat16
    for name, x, r in zip(NAMES, got, ref, strict=True):
        assert rel_err(x, r) < 3e-2, f"{name}: {rel_err(x, r)}"


@pytest.mark.parametrize("backend,device", PATHS)
def test_step_by_step_equals_parallel(backend, device):
    x = {k: v.float().to(device) for k, v in make_inputs(length=12).items()}
    out, last = selective_scan(**x, delta_softplus=True, return_final=True, backend=backend)
    state = x["h0"].clone()
    for t in range(12):
        y, state = selective_step(state, x["u"][..., t], x["delta"][..., t], x["A"],
                                  x["B"][..., t], x["C"][..., t], x["D"], x["z"][..., t],
                                  x["delta_bias"], delta_softplus=True)  # fmt: skip
        assert rel_err(y, out[..., t]) < 1e-5
    assert rel_err(state, last) < 1e-5


def test_gradcheck_float64_torch_path():
    x = make_inputs(bsz=1, d=3, length=6, n=2)
    leaves = [x[k].requires_grad_() for k in ("u", "delta", "A", "B", "C", "D", "z")]

    def fn(u, delta, A, B, C, D, z):
        return selective_scan(u, delta, A, B, C, D, z, x["delta_bias"], True, x["h0"],
                              backend="torch")  # fmt: skip

    assert torch.autograd.gradcheck(fn, leaves)


def test_clear_errors_for_bad_input():
    x = make_inputs()
    bad = dict(x, B=torch.randn(2, 5, 19, dtype=torch.float64))
    with pytest.raises(ValueError, match="B must have shape"):
        selective_scan(**bad)
    with pytest.raises(ValueError, match="groups, which must divide"):
        selective_scan(**dict(x, B=torch.randn(2, 3, 4, 19, dtype=torch.float64)))
    with pytest.raises(ValueError, match="delta must have shape"):
        selective_scan(**dict(x, delta=x["delta"][..., :5]))
    with pytest.raises(TypeError, match="complex A"):
        selective_scan(**dict(x, A=x["A"].to(torch.complex128)))
    with pytest.raises(ValueError, match="h0 must have shape"):
        selective_scan(**dict(x, h0=x["h0"][:, :, :2]))


# --- Chunked (L-parallel) forward and index maps (shared u, reversed groups) -------------------


@pytest.fixture
def small_chunks(monkeypatch):
    """Force the chunked forward with 2 tiles (16 steps in the interpreter) per chunk."""
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "CHUNK_TILES", 2)
    return triton_scan


TRITON_DEVICE = "cuda" if CUDA else "cpu"
CHUNK_CASES = {
    "all-options": dict(length=45),
    "grouped": dict(groups=2, length=40),
    "bare": dict(options=False, length=33),
    "L1": dict(length=1),
    "L7": dict(length=7),
    "L1000": dict(bsz=1, d=4, n=2, length=1000),
}


@pytest.mark.parametrize("case", list(CHUNK_CASES))
def test_chunked_forward_matches_naive_with_grads(small_chunks, case):
    inputs = make_inputs(**CHUNK_CASES[case])
    softplus = case != "bare"
    got = run(inputs, "triton", TRITON_DEVICE, torch.float32, softplus)
    ref = run(inputs, "naive", "cpu", torch.float64, softplus)
    for name, x, r in zip(NAMES, got, ref, strict=True):
        if r is None:
            assert x is None, name
            continue
        assert torch.isfinite(x).all(), name
        assert rel_err(x, r) < 1e-4, f"{name}: {rel_err(x, r)}"


def test_chunked_forward_bf16_and_no_grad(small_chunks):
    inputs = make_inputs(length=70, groups=2)
    bf = {k: v.to(torch.bfloat16).double() for k, v in inputs.items()}
    ref = run({k: v.clone() for k, v in bf.items()}, "naive", "cpu", torch.float64)
    x = {k: v.to(TRITON_DEVICE, torch.bfloat16) for k, v in bf.items()}
    x["A"] = bf["A"].float().to(TRITON_DEVICE)
    with torch.no_grad():  # the inference path: no checkpoints
        out, last = selective_scan(**x, delta_softplus=True, return_final=True, backend="triton")
    assert out.dtype == torch.bfloat16
    assert rel_err(out, ref[0]) < 3e-2 and rel_err(last, ref[1]) < 3e-2
    got = run(bf, "triton", TRITON_DEVICE, torch.bfloat16)  # the autograd path, chunked too
    for name, a, r in zip(NAMES, got, ref, strict=True):
        assert rel_err(a, r) < 3e-2, f"{name}: {rel_err(a, r)}"


def test_chunk_sizes_are_chosen_for_few_programs(monkeypatch):
    from worldssm.kernels.selective_scan import triton_scan as ts

    assert ts.chunk_tiles(256, 2040) == 2040  # per-call chunking is opt-in
    monkeypatch.setattr(ts, "AUTO_CHUNK", True)

    # VFIMamba-S 1/8 scale at 1080p: B*D/BLOCK_D = 256 programs, 2040 tiles of 32 steps.
    tiles = ts.chunk_tiles(256, 2040)
    assert tiles < 2040 and 256 * -(-2040 // tiles) >= ts.CHUNK_TARGET_PROGRAMS * 0.9
    assert ts.chunk_tiles(8 * 384, 64) == 64  # many programs already: one chunk
    assert ts.chunk_tiles(16, 20) == 20  # short sequence: one chunk


def _shared_reversed_inputs(length=21, du=4, groups=4, n=3, seed=5):
    """SS2D-like inputs: D = 2*Du channels in 4 groups; u holds Du channels."""
    x = make_inputs(bsz=2, d=2 * du, length=length, n=n, groups=groups, seed=seed)
    x["u"] = x["u"][:, :du].clone()
    x["z"] = None
    return x, [False, False, True, True]


def test_reverse_and_shared_u_reference_semantics():
    x, flags = _shared_reversed_inputs()
    out = selective_scan(**x, delta_softplus=True, backend="naive", reverse=flags)
    # By hand: every channel group separately, flipped along L where reversed.
    d = x["delta"].shape[1]
    u_full = x["u"].repeat(1, d // x["u"].shape[1], 1)
    per = d // 4
    for g, rev in enumerate(flags):
        sl = slice(g * per, (g + 1) * per)
        f = (lambda t: t.flip(-1)) if rev else (lambda t: t)  # noqa: E731
        ref = selective_scan(
            f(u_full[:, sl]), f(x["delta"][:, sl]), x["A"][sl], f(x["B"][:, g]), f(x["C"][:, g]),
            x["D"][sl], None, x["delta_bias"][sl], True, x["h0"][:, sl], backend="naive",
        )  # fmt: skip
        torch.testing.assert_close(out[:, sl], f(ref))


@pytest.mark.parametrize(
    "chunked,flags",
    [(False, None), (True, None), (False, [True, False, True, False]), (True, [True] * 4)],
)
def test_reverse_and_shared_u_triton_matches_naive(monkeypatch, chunked, flags):
    """SS2D's directions (two forward groups, two reversed), alternating ones (four launches, one
    per run of groups that scan the same way) and all reversed."""
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "CHUNK_TILES", 1 if chunked else 0)
    x, ss2d_flags = _shared_reversed_inputs()
    flags = flags or ss2d_flags
    outs = {}
    for backend, device, dtype in (("triton", TRITON_DEVICE, torch.float32),
                                   ("naive", "cpu", torch.float64)):  # fmt: skip
        leaves = {k: None if v is None else v.to(device, dtype).requires_grad_()
                  for k, v in x.items()}  # fmt: skip
        out, last = selective_scan(**leaves, delta_softplus=True, return_final=True,
                                   backend=backend, reverse=flags)  # fmt: skip
        w = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        ((out * w.to(device, dtype)).sum() + last.sum()).backward()
        names = [k for k, v in leaves.items() if v is not None]
        outs[backend] = [out, last] + [leaves[k].grad for k in names]
    for i, (a, r) in enumerate(zip(outs["triton"], outs["naive"], strict=True)):
        assert rel_err(a, r) < 1e-4, f"{i}: {rel_err(a, r)}"


def test_direction_runs_cover_every_channel_block_once():
    from worldssm.kernels.selective_scan.triton_scan import _direction_runs

    # (first channel, channel blocks, reversed): 4 groups of 8 channels in blocks of 2.
    assert _direction_runs(0b1100, 4, 8, 2) == [(0, 8, False), (16, 8, True)]
    assert _direction_runs(0b0101, 4, 8, 2) == [(0, 4, True), (8, 4, False), (16, 4, True),
                                                (24, 4, False)]  # fmt: skip
    assert _direction_runs(0, 1, 12, 4) == [(0, 3, False)]
    assert _direction_runs(1, 1, 12, 4) == [(0, 3, True)]


def test_reverse_flag_errors():
    x = make_inputs(groups=2)
    with pytest.raises(ValueError, match="one bool per group"):
        selective_scan(**x, reverse=[True, False, True])
    with pytest.raises(ValueError, match="Du dividing D|with 3 \\| D"):
        selective_scan(**dict(x, u=x["u"][:, :3]))


@pytest.mark.parametrize("chunked", [False, True])
def test_reverse_with_every_option_triton_matches_naive_with_grads(monkeypatch, chunked):
    """A reversed launch with z, D, delta_bias, h0 and a partial tile (L = 45: 6 tiles of 8 in
    the interpreter, 2 of 32 on a GPU): tiles load in memory order and flip into scan order."""
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "CHUNK_TILES", 2 if chunked else 0)
    x = make_inputs(length=45, groups=2, seed=7)
    outs = {}
    for backend, device, dtype in (("triton", TRITON_DEVICE, torch.float32),
                                   ("naive", "cpu", torch.float64)):  # fmt: skip
        leaves = {k: v.to(device, dtype).requires_grad_() for k, v in x.items()}
        out, last = selective_scan(**leaves, delta_softplus=True, return_final=True,
                                   backend=backend, reverse=[True, False])  # fmt: skip
        g = torch.Generator().manual_seed(2)
        w = torch.randn(out.shape, generator=g, dtype=torch.float64).to(device, dtype)
        wl = torch.randn(last.shape, generator=g, dtype=torch.float64).to(device, dtype)
        ((out * w).sum() + (last * wl).sum()).backward()
        outs[backend] = [out, last] + [leaves[k].grad for k in x]
    for name, a, r in zip(["out", "last", *x], outs["triton"], outs["naive"], strict=True):
        assert rel_err(a, r) < 1e-4, f"{name}: {rel_err(a, r)}"


@pytest.mark.parametrize(
    "fwd_early,bwd_early,stages,flip",
    [
        (True, True, 1, 0),
        (False, False, 1, 14),
        (False, False, 2, 6),
        (True, True, 3, 8),
    ],
)
def test_load_schedules_match_naive(monkeypatch, fwd_early, bwd_early, stages, flip):
    """FWD_EARLY / BWD_EARLY, the pipelined tile loops (FWD_STAGES / BWD_STAGES) and
    FLIP_FORWARD_TILES, in a forward and a reversed group."""
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "FWD_EARLY", fwd_early)
    monkeypatch.setattr(triton_scan, "BWD_EARLY", bwd_early)
    monkeypatch.setattr(triton_scan, "FWD_STAGES", stages)
    monkeypatch.setattr(triton_scan, "BWD_STAGES", stages)
    monkeypatch.setattr(triton_scan, "FLIP_FORWARD_TILES", {2: flip, 4: flip})
    x = make_inputs(length=45, groups=2, seed=11)
    outs = {}
    for backend, device, dtype in (("triton", TRITON_DEVICE, torch.float32),
                                   ("naive", "cpu", torch.float64)):  # fmt: skip
        leaves = {k: v.to(device, dtype).requires_grad_() for k, v in x.items()}
        out, last = selective_scan(**leaves, delta_softplus=True, return_final=True,
                                   backend=backend, reverse=[False, True])  # fmt: skip
        w = torch.randn(out.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        ((out * w.to(device, dtype)).sum() + last.sum()).backward()
        outs[backend] = [out, last] + [leaves[k].grad for k in x]
    for name, a, r in zip(["out", "last", *x], outs["triton"], outs["naive"], strict=True):
        assert rel_err(a, r) < 1e-4, f"{name}: {rel_err(a, r)}"


def test_reverse_one_group_triton_matches_flipped_naive():
    # reverse=True with ungrouped B/C is rev_mask == 1: one launch, every channel reversed.
    x = make_inputs(length=20)
    flip = {k: v.flip(-1) if k in ("u", "delta", "z", "B", "C") else v for k, v in x.items()}
    ref = selective_scan(**flip, delta_softplus=True, backend="naive").flip(-1)
    got = selective_scan(
        **{k: v.float().to(TRITON_DEVICE) for k, v in x.items()},
        delta_softplus=True, reverse=True, backend="triton",
    )  # fmt: skip
    assert rel_err(got, ref) < 1e-5


# --- Inference forward (no autograd), tiled kernel: its own tiles (INFER_CONFIG) ---------------
# (the default inference kernel, triton_seq, has its own tests in test_selective_scan_seq.py)

INFER_CASES = {
    "all-options": dict(length=45),
    "grouped": dict(groups=2, length=40),
    "bare": dict(options=False, length=33),
    "L1": dict(length=1),
    "odd-n": dict(d=6, length=40, n=3),
    "time-invariant-BC": dict(bc_const=True, length=19),
}


@pytest.mark.parametrize("tile", [(1, 8, 1), (2, 16, 2)])
@pytest.mark.parametrize("case", list(INFER_CASES))
def test_inference_tiles_match_naive(monkeypatch, case, tile):
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "INFER_KERNEL", "tile")
    monkeypatch.setattr(triton_scan, "INFER_CONFIG", tile)
    inputs = make_inputs(**INFER_CASES[case])
    softplus = case != "bare"
    ref = selective_scan(**inputs, delta_softplus=softplus, return_final=True, backend="naive")
    x = {k: None if v is None else v.float().to(TRITON_DEVICE) for k, v in inputs.items()}
    with torch.no_grad():
        out, last = selective_scan(**x, delta_softplus=softplus, return_final=True,
                                   backend="triton")  # fmt: skip
    assert rel_err(out, ref[0]) < 1e-5 and rel_err(last, ref[1]) < 1e-5


def test_inference_tiles_reverse_and_shared_u(monkeypatch):
    from worldssm.kernels.selective_scan import triton_scan

    monkeypatch.setattr(triton_scan, "INFER_KERNEL", "tile")
    monkeypatch.setattr(triton_scan, "INFER_CONFIG", (1, 8, 1))
    x, flags = _shared_reversed_inputs(length=37)
    ref = selective_scan(**x, delta_softplus=True, return_final=True, backend="naive",
                         reverse=flags)  # fmt: skip
    xs = {k: None if v is None else v.float().to(TRITON_DEVICE) for k, v in x.items()}
    with torch.no_grad():
        out, last = selective_scan(**xs, delta_softplus=True, return_final=True,
                                   backend="triton", reverse=flags)  # fmt: skip
    assert rel_err(out, ref[0]) < 1e-5 and rel_err(last, ref[1]) < 1e-5


def test_inference_tiles_only_where_programs_are_few():
    from worldssm.kernels.selective_scan import triton_scan as ts

    # VFIMamba-S at batch 1 (1,024 channels): the small tiles of the H100 sweep.
    assert ts.infer_tile(1, 1024, torch.float32) == ts.DEFAULT_INFER[torch.float32]
    assert ts.infer_tile(1, 1024, torch.bfloat16) == ts.DEFAULT_INFER[torch.bfloat16]
    # A big batch (the Mamba benchmark shape) keeps the forward's own default.
    assert ts.infer_tile(8, 1536, torch.float32) == ts.DEFAULT_FWD
