"""linear_scan: every fast path against the naive loop (outputs, final state, gradients)."""

import pytest
import torch

from worldssm.kernels import linear_scan, scan_backend
from worldssm.kernels.backend import resolve_backend

CUDA = torch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])
# Triton runs on CUDA, or on CPU in the interpreter (set by conftest when there is no GPU).
PATHS = [("torch", "cpu"), ("triton", "cuda" if CUDA else "cpu")]


def rel_err(x, ref):
    x, ref = torch.as_tensor(x).cpu(), torch.as_tensor(ref).cpu()
    wide = torch.complex128 if ref.is_complex() else torch.float64
    return ((x.to(wide) - ref.to(wide)).norm() / ref.to(wide).norm().clamp_min(1e-30)).item()


def make_inputs(shape, dtype, device, a_shape=None, complex_=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    a_shape = a_shape or shape
    a = torch.rand(a_shape, generator=g, dtype=torch.float64) * 0.4 + 0.6
    b = torch.randn(shape, generator=g, dtype=torch.float64)
    h0 = torch.randn(shape[:1] + shape[2:], generator=g, dtype=torch.float64)
    if complex_:
        a = a * torch.exp(1j * torch.rand(a_shape, generator=g, dtype=torch.float64))
        b = b + 1j * torch.randn(shape, generator=g, dtype=torch.float64)
        h0 = h0 + 0.5j
    reset = torch.rand(shape[:2], generator=g) < 0.15
    return [x.to(device) for x in (a, b, h0)] + [reset.to(device)], [a, b, h0, reset]


def run_with_grads(backend, a, b, h0, reset, reverse, dtype, seed=1):
    """Forward + backward of a random projection of (h, h_final); returns h, final and grads."""
    leaves = [x.detach().to(dtype).requires_grad_() for x in (a, b, h0)]
    h, final = linear_scan(*leaves[:2], h0=leaves[2], reset=reset, reverse=reverse,
                           return_final=True, backend=backend)  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(h.shape, generator=g, dtype=torch.float64).to(h.device, h.dtype)
    wf = torch.randn(final.shape, generator=g, dtype=torch.float64).to(h.device, h.dtype)
    loss = (h * w).real.sum() + (final * wf).real.sum()
    loss.backward()
    return [h.detach(), final.detach()] + [x.grad for x in leaves]


CASES = [
    # (shape, a_shape or None, complex, reverse, with_reset)
    ((2, 1, 3), None, False, False, True),
    ((2, 7, 3, 5), None, False, False, True),
    ((2, 19, 5), None, False, True, True),
    ((3, 37, 2, 3), (1, 1, 2, 1), False, False, True),  # time-invariant, shared over B and S
    ((2, 23, 4), (2, 1, 4), False, True, True),  # time-invariant per batch
    ((2, 17, 3), (1, 17, 3), False, False, False),  # shared over batch, time-varying
    ((2, 21, 3), None, True, False, True),
    ((2, 21, 3), (1, 1, 3), True, True, True),
]


@pytest.mark.parametrize("backend,device", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-c{c[2]}-r{c[3]}")
def test_matches_naive_with_grads(backend, device, case):
    shape, a_shape, complex_, reverse, with_reset = case
    dev_in, cpu_in = make_inputs(shape, None, device, a_shape, complex_)
    a, b, h0, reset = dev_in
    reset = reset if with_reset else None
    dtype = torch.complex64 if complex_ else torch.float32
    got = run_with_grads(backend, a, b, h0, reset, reverse, dtype)
    wide = torch.complex128 if complex_ else torch.float64
    ref = run_with_grads("naive", *cpu_in[:3], None if reset is None else reset.cpu(),
                         reverse, wide)  # fmt: skip
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
        assert x.shape == r.shape, name
        assert torch.isfinite(torch.view_as_real(x) if x.is_complex() else x).all(), name
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"


@pytest.mark.parametrize("backend,device", PATHS)
def test_bf16_and_fp16_accumulate_in_fp32(backend, device):
    (a, b, h0, reset), _ = make_inputs((2, 100, 6), None, device)
    for dtype in (torch.bfloat16, torch.float16):
        h = linear_scan(a.to(dtype), b.to(dtype), h0=h0.to(dtype), reset=reset, backend=backend)
        assert h.dtype == dtype
        ref = linear_scan(a.to(dtype).double(), b.to(dtype).double(), h0=h0.to(dtype).double(),
                          reset=reset, backend="naive")  # fmt: skip
        assert rel_err(h, ref) < 1e-2


@pytest.mark.parametrize("backend,device", PATHS)
def test_resets_equal_separate_episodes(backend, device):
    (a, b, h0, _), _ = make_inputs((1, 30, 4), None, device)
    reset = torch.zeros(1, 30, dtype=torch.bool, device=device)
    reset[0, [0, 11, 12, 25]] = True
    h = linear_scan(a, b, h0=h0, reset=reset, backend=backend)
    for start, stop in [(0, 11), (11, 12), (12, 25), (25, 30)]:
        alone = linear_scan(a[:, start:stop], b[:, start:stop], backend="naive")
        assert rel_err(h[:, start:stop], alone) < 1e-5


@pytest.mark.parametrize("backend,device", PATHS)
def test_reverse_equals_flip(backend, device):
    (a, b, h0, _), _ = make_inputs((2, 45, 3), None, device)
    rev = linear_scan(a, b, h0=h0, reverse=True, backend=backend)
    flipped = linear_scan(a.flip(1), b.flip(1), h0=h0, backend=backend).flip(1)
    assert rel_err(rev, flipped) < 1e-6


@pytest.mark.parametrize("backend,device", PATHS)
def test_chunked_rollout_continues_from_final_state(backend, device):
    (a, b, h0, _), _ = make_inputs((2, 40, 3), None, device)
    whole = linear_scan(a, b, h0=h0, backend=backend)
    first, last = linear_scan(a[:, :17], b[:, :17], h0=h0, return_final=True, backend=backend)
    second = linear_scan(a[:, 17:], b[:, 17:], h0=last, backend=backend)
    assert rel_err(torch.cat([first, second], 1), whole) < 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_long_and_wide(device):
    """Long T with a small state, and a wide state with short T (the video shape, scaled down)."""
    for shape in [(2, 65536, 3), (2, 300, 64, 8, 8)]:
        (a, b, h0, reset), _ = make_inputs(shape, None, device)
        h = linear_scan(a, b, h0=h0, reset=reset, backend="torch")
        ref = linear_scan(a.double(), b.double(), h0=h0.double(), reset=reset, backend="naive")
        assert rel_err(h, ref) < 1e-6


def test_torch_path_a_million_steps():
    """T = 1,000,000 (the issue's longest T) on the CPU path, against references that need no
    million-step loop: with a = 1 and random resets h is a cumulative sum restarted at each
    episode and the gradient of b a suffix sum cut at the next start; with a random a <= 0.99
    the state forgets (0.99^3000 < 1e-13), so h_t equals the naive scan of a 3,000-step window
    ending at t."""
    torch.manual_seed(3)
    length, dims = 1_000_000, 3
    b = torch.randn(2, length, dims, dtype=torch.float64, requires_grad=True)
    reset = torch.rand(2, length) < 1e-4
    h = linear_scan(torch.ones(1, 1, dims, dtype=torch.float64), b, reset=reset, backend="torch")
    steps = torch.arange(length).expand(2, length)
    last_start = torch.cummax(torch.where(reset, steps, 0), 1).values  # episode start of each t
    total = b.detach().cumsum(1)
    before = total.gather(1, (last_start - 1).clamp(min=0)[..., None].expand(-1, -1, dims))
    ref = total - torch.where((last_start > 0)[..., None], before, 0.0)
    assert rel_err(h, ref) < 1e-12
    w = torch.randn_like(ref)
    (grad_b,) = torch.autograd.grad((h * w).sum(), b)
    suffix = torch.cat([w.flip(1).cumsum(1).flip(1), torch.zeros(2, 1, dims, dtype=w.dtype)], 1)
    starts = torch.where(reset, steps, length)  # next episode start after each t
    next_start = torch.cat([starts[:, 1:], torch.full((2, 1), length)], 1)
    next_start = next_start.flip(1).cummin(1).values.flip(1)
    grad_ref = suffix[:, :length] - suffix.gather(1, next_start[..., None].expand(-1, -1, dims))
    assert rel_err(grad_b, grad_ref) < 1e-12

    a = torch.rand(2, length, dims, dtype=torch.float64) * 0.49 + 0.5
    h = linear_scan(a, b.detach(), backend="torch")
    for end in (4_000, 500_001, length):
        window = slice(end - 3_000, end)
        ref = linear_scan(a[:, window], b.detach()[:, window], backend="naive")
        assert rel_err(h[:, end - 100 : end], ref[:, -100:]) < 1e-10


def test_gradcheck_float64_torch_path():
    (a, b, h0, reset), _ = make_inputs((2, 140, 3), None, "cpu", complex_=False)
    inputs = [x.detach().requires_grad_() for x in (a, b, h0)]

    def fn(a, b, h0):
        return linear_scan(a, b, h0=h0, reset=reset, return_final=True, backend="torch")

    assert torch.autograd.gradcheck(fn, inputs)
    ca, cb, ch0 = [
        x.detach().requires_grad_()
        for x in make_inputs((1, 9, 2), None, "cpu", complex_=True)[0][:3]
    ]
    assert torch.autograd.gradcheck(
        lambda a, b, h: linear_scan(a, b, h0=h, reverse=True, backend="torch"), [ca, cb, ch0]
    )


def test_scan_backend_context_and_errors(monkeypatch):
    assert resolve_backend(torch.device("cpu")) == "torch"
    with scan_backend("naive"):
        assert resolve_backend(torch.device("cpu")) == "naive"
    with pytest.raises(ValueError, match="unknown scan backend"):
        resolve_backend(torch.device("cpu"), "fast")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        resolve_backend(torch.device("cpu"), "triton")


def test_clear_errors_for_bad_input():
    b = torch.randn(2, 5, 3)
    for bad_a in (torch.rand(2, 5, 4), torch.rand(3, 5, 3), torch.rand(1, 4, 1)):
        with pytest.raises(ValueError, match="must broadcast"):
            linear_scan(bad_a, b)
    with pytest.raises(ValueError, match=r"\(B, T, \*S\)"):
        linear_scan(torch.rand(5), torch.randn(5))
    with pytest.raises(ValueError, match="h0 must have shape"):
        linear_scan(torch.rand(2, 5, 3), b, h0=torch.randn(2, 4))
    with pytest.raises(ValueError, match="reset must have shape"):
        linear_scan(torch.rand(2, 5, 3), b, reset=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        linear_scan(torch.rand(2, 5, 3), b, reset=torch.zeros(2, 5))
    with pytest.raises(TypeError, match="complex"):
        linear_scan(torch.rand(2, 5, 3, dtype=torch.complex64), b)
    with pytest.raises(ValueError, match="one device"):
        linear_scan(torch.rand(2, 5, 3, device="meta"), b)
    with pytest.raises(TypeError, match="dtype"):
        linear_scan(torch.ones(2, 5, 3, dtype=torch.int32), b)


@pytest.mark.parametrize("backend,device", PATHS)
def test_float64_stays_exact_on_every_backend(backend, device):
    (a, b, h0, reset), _ = make_inputs((2, 50, 3), None, device)
    h = linear_scan(a, b, h0=h0, reset=reset, backend=backend)
    ref = linear_scan(a, b, h0=h0, reset=reset, backend="naive")
    assert h.dtype == torch.float64
    assert rel_err(h, ref) < 1e-12


# --- Triton variants: single pass over T, and chunked (T-parallel chunks chained by carries) ---
# Tiny tiles force several chunks and several column tiles (with a masked tail) on CPU.
VARIANTS = [("single", (8, 4, 1)), ("chunked", (8, 4, 1)), ("chunked", (4, 8, 1))]
TRITON_DEV = "cuda" if CUDA else "cpu"


@pytest.fixture
def nan_outputs(monkeypatch):
    """Fresh float outputs start as NaN, so an element a kernel never writes fails loudly."""
    empty, empty_like = torch.empty, torch.empty_like

    def fill(x):
        return x.fill_(float("nan")) if x.is_floating_point() or x.is_complex() else x

    monkeypatch.setattr(torch, "empty", lambda *s, **k: fill(empty(*s, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *s, **k: fill(empty_like(*s, **k)))


LONG_CASES = [
    ((2, 1000, 3), None, False, False, True),  # long T: 32 chunks of 32
    ((1, 7, 5), (1, 1, 5), False, True, False),  # odd T, time-invariant, reverse
    ((2, 1000, 2), (1, 1, 2), True, True, True),  # complex, long, time-invariant, reverse
]
VARIANT_CASES = [(v, t, c) for v, t in VARIANTS for c in CASES] + [
    (v, t, c) for v, t in [("single", (64, 4, 1)), ("chunked", (32, 4, 1))] for c in LONG_CASES
]


@pytest.mark.parametrize(
    "variant,tile,case",
    VARIANT_CASES,
    ids=lambda x: str(x) if not isinstance(x, tuple) or len(x) != 5 else f"{x[0]}-{x[1]}-c{x[2]}",
)
def test_triton_variants_match_naive(variant, tile, case, nan_outputs):
    from worldssm.kernels.linear_scan.triton_scan import scan_config

    shape, a_shape, complex_, reverse, with_reset = case
    (a, b, h0, reset), cpu_in = make_inputs(shape, None, TRITON_DEV, a_shape, complex_, seed=3)
    reset = reset if with_reset else None
    dtype = torch.complex64 if complex_ else torch.float32
    with scan_config(variant, tile):
        got = run_with_grads("triton", a, b, h0, reset, reverse, dtype)
    wide = torch.complex128 if complex_ else torch.float64
    ref = run_with_grads("naive", *cpu_in[:3], None if reset is None else reset.cpu(),
                         reverse, wide)  # fmt: skip
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
        assert x.shape == r.shape, name
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"


@pytest.mark.parametrize("variant,tile", VARIANTS[:2], ids=lambda v: str(v))
@pytest.mark.parametrize("a_shape", [None, (1, 1, 6), (1, 100, 6)], ids=str)
def test_triton_variants_half_precision_grads(variant, tile, a_shape, nan_outputs):
    """bf16/fp16 in and out (da written in a's dtype when it is per element), fp32 inside."""
    from worldssm.kernels.linear_scan.triton_scan import scan_config

    (a, b, h0, reset), cpu_in = make_inputs((2, 100, 6), None, TRITON_DEV, a_shape, seed=4)
    for dtype in (torch.bfloat16, torch.float16):
        rounded = [x.to(dtype).double().cpu() for x in (a, b, h0)]
        with scan_config(variant, tile):
            got = run_with_grads("triton", a, b, h0, reset, False, dtype)
        ref = run_with_grads("naive", *rounded, reset.cpu(), False, torch.float64)
        for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
            assert x.dtype == dtype, name
            assert rel_err(x, r) < 2e-2, f"{dtype} {name}: {rel_err(x, r)}"


def test_triton_chunked_without_h0_or_final_grad():
    """No h0 and a loss on h only (grad_final is None): the chain starts from zeros."""
    from worldssm.kernels.linear_scan.triton_scan import scan_config

    (a, b, _, reset), _ = make_inputs((3, 61, 5), None, TRITON_DEV, seed=5)
    leaves = [x.detach().requires_grad_() for x in (a, b)]
    with scan_config("chunked", (8, 4, 1)):
        h = linear_scan(*leaves, reset=reset, reverse=True, backend="triton")
    h.square().sum().backward()
    wide = [x.detach().double().requires_grad_() for x in (a, b)]
    ref = linear_scan(*wide, reset=reset, reverse=True, backend="naive")
    ref.square().sum().backward()
    assert rel_err(h, ref) < 2e-5
    for x, r in zip(leaves, wide, strict=True):
        assert rel_err(x.grad, r.grad) < 2e-5


# Real dtypes with a one-tile prefetch (Choice.prefetch) in the forward and backward: (8, 32, 1)
# leaves a masked column tail at every N here, chunks of 4 force a chain.
PREFETCH_CASES = [c for c in CASES if not c[2]] + [
    ((2, 45, 40), (1, 1, 40), False, False, True),  # two column tiles, time-invariant
    ((2, 130, 3), None, False, True, True),  # 17 tiles / 33 chunks, reverse
]


@pytest.mark.parametrize("variant,tile", [("single", (8, 32, 1)), ("chunked", (4, 32, 1))])
@pytest.mark.parametrize("case", PREFETCH_CASES, ids=lambda c: f"{c[0]}-{c[1]}-r{c[3]}-{c[4]}")
def test_triton_prefetch_matches_naive(variant, tile, case, nan_outputs):
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    shape, a_shape, _, reverse, with_reset = case
    (a, b, h0, reset), cpu_in = make_inputs(shape, None, TRITON_DEV, a_shape, seed=12)
    reset = reset if with_reset else None
    with scan_config(variant, tile, prefetch=True):
        got = run_with_grads("triton", a, b, h0, reset, reverse, torch.float32)
        half = run_with_grads("triton", a, b, h0, reset, reverse, torch.bfloat16)
    ref = run_with_grads("naive", *cpu_in[:3], None if reset is None else reset.cpu(),
                         reverse, torch.float64)  # fmt: skip
    for name, x, y, r in zip(["h", "final", "da", "db", "dh0"], got, half, ref, strict=True):
        assert x.shape == r.shape, name
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"
        assert y.dtype == torch.bfloat16 and rel_err(y, r) < 3e-2, f"bf16 {name}: {rel_err(y, r)}"


# Options of the kernels against the naive loop: lane_cols (lanes across a tile's columns, time
# in each thread's registers), rev_scan (backward rows in increasing time, reverse=True scan) and
# stages (single pass: Triton pipelines the tile loads through shared memory; the interpreter
# runs the plain loop, so the GPU run is the real check).
OPTIONS = {
    "lane_cols": {"lane_cols": True},
    "rev_scan": {"rev_scan": True},
    "stages": {"stages": 3, "prefetch": False},
    "lane_stages": {"lane_cols": True, "stages": 4, "prefetch": False},
    "lookback": {"lookback": 2},
    "lane_lookback": {"lane_cols": True, "lookback": 4, "prefetch": False},
    "chunk_tiles": {"lookback": 2, "chunk_tiles": 2},
    "strict_chunk_tiles": {"lookback": 0, "chunk_tiles": 4},
}
OPTION_CASES = [
    (option, variant, tile, case)
    for option, tiles, cases in (
        ("lane_cols", (("single", (8, 32, 1)), ("chunked", (4, 16, 1))),
         PREFETCH_CASES + [CASES[-2]]),
        ("rev_scan", (("single", (8, 4, 1)), ("chunked", (4, 8, 1))), CASES),
        ("stages", (("single", (4, 8, 1)),), CASES),
        ("lane_stages", (("single", (8, 32, 1)),), PREFETCH_CASES + [CASES[-2]]),
        ("lookback", (("chunked", (4, 8, 1)),), CASES),
        ("lane_lookback", (("chunked", (4, 32, 1)),), PREFETCH_CASES[-2:]),
        # chunks of several tiles, the last one partial (T = 19 .. 37 in 2-step tiles)
        ("chunk_tiles", (("chunked", (2, 8, 1)),), CASES[2:]),
        ("strict_chunk_tiles", (("chunked", (2, 8, 1)),), [CASES[2], CASES[6]]),
    )
    for variant, tile in tiles
    for case in cases
]  # fmt: skip


@pytest.mark.parametrize(
    "option,variant,tile,case",
    OPTION_CASES,
    ids=[f"{o}-{v}-{c[0]}-{c[1]}-c{c[2]}-r{c[3]}" for o, v, _, c in OPTION_CASES],
)
def test_triton_options_match_naive(option, variant, tile, case, nan_outputs):
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    shape, a_shape, complex_, reverse, with_reset = case
    (a, b, h0, reset), cpu_in = make_inputs(shape, None, TRITON_DEV, a_shape, complex_, seed=13)
    reset = reset if with_reset else None
    dtype = torch.complex64 if complex_ else torch.float32
    with scan_config(variant, tile, **{"prefetch": not complex_, **OPTIONS[option]}):
        got = run_with_grads("triton", a, b, h0, reset, reverse, dtype)
    ref = run_with_grads("naive", *cpu_in[:3], None if reset is None else reset.cpu(),
                         reverse, torch.complex128 if complex_ else torch.float64)  # fmt: skip
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
        assert x.shape == r.shape, name
        assert rel_err(x, r) < 2e-5, f"{option} {name}: {rel_err(x, r)}"


@pytest.mark.parametrize("window,chunk_tiles", [(1, 1), (2, 1), (1, 4), (2, 2)])
@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[6], CASES[7]],
                         ids=lambda c: f"{c[0]}-{c[1]}-c{c[2]}-r{c[3]}")  # fmt: skip
def test_triton_lookback_folds_aggregates(window, chunk_tiles, case, monkeypatch, nan_outputs):
    """Look-back where most predecessors published only their aggregate (P, S): only every
    third chunk publishes its end state, so successors fold one or two aggregates, across
    windows when window = 1. In the interpreter every predecessor has finished, so without
    this the aggregates are never read. chunk_tiles: chunks of several tiles, whose aggregate
    comes from a first pass over them."""
    from worldssm.kernels.linear_scan import triton_scan
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    monkeypatch.setattr(triton_scan, "_LOOKBACK_INC_EVERY", 3)
    shape, a_shape, complex_, reverse, with_reset = case
    (a, b, h0, reset), cpu_in = make_inputs(shape, None, TRITON_DEV, a_shape, complex_, seed=17)
    reset = reset if with_reset else None
    dtype = torch.complex64 if complex_ else torch.float32
    with scan_config("chunked", (2, 4, 1), lookback=window, chunk_tiles=chunk_tiles):
        got = run_with_grads("triton", a, b, h0, reset, reverse, dtype)
    ref = run_with_grads("naive", *cpu_in[:3], None if reset is None else reset.cpu(),
                         reverse, torch.complex128 if complex_ else torch.float64)  # fmt: skip
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"


# T-major input (b with T contiguous: a (B, N, T) tensor's transpose) scanned in place (opt-in).
T_MAJOR_CASES = [
    # (a layout: "tv" per element, "shared" (1, T, N), "ti" (1, 1, N), "ti_b" (B, 1, N)), reverse
    ("tv", False),
    ("tv", True),
    ("shared", False),
    ("ti", True),
    ("ti_b", False),
]


def t_major_a(kind: str, bsz: int, length: int, n: int, g: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1) a for a T-major scan of (B, T, N): "tv" per element and "shared" (1, T, N)
    with T contiguous, "ti" (1, 1, N), "ti_b" (B, 1, N)."""
    if kind == "tv":
        return torch.rand(bsz, n, length, generator=g).transpose(1, 2)
    if kind == "shared":
        return torch.rand(1, n, length, generator=g).transpose(1, 2)
    return torch.rand(1 if kind == "ti" else bsz, 1, n, generator=g)


@pytest.mark.parametrize(
    "rev,shift", [(False, False), (True, False), (True, True)], ids=["up", "rev", "rev_shift"]
)
@pytest.mark.parametrize("variant,tile", [("single", (16, 2, 1)), ("chunked", (8, 4, 1))])
@pytest.mark.parametrize("case", T_MAJOR_CASES, ids=str)
def test_triton_t_major_input_matches_naive(variant, tile, case, rev, shift, nan_outputs):
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    kind, reverse = case
    bsz, length, n = 2, 37, 5
    g = torch.Generator().manual_seed(13)
    b = torch.randn(bsz, n, length, generator=g).transpose(1, 2)  # T contiguous
    a = t_major_a(kind, bsz, length, n, g) * 0.5 + 0.5
    h0 = torch.randn(bsz, n, generator=g)
    reset = torch.rand(bsz, length, generator=g) < 0.1
    w = torch.randn(bsz, length, n, generator=g, dtype=torch.float64)
    outs = []
    for backend, dtype, dev in (
        ("triton", torch.float32, TRITON_DEV),
        ("naive", torch.float64, "cpu"),
    ):
        xs = [x.to(dev, dtype).detach().requires_grad_() for x in (a, b, h0)]
        if backend == "triton":
            assert xs[1].stride()[1] == 1  # still T-major on the device
        with scan_config(variant, tile, t_major=True, rev_scan=rev, shift_rows=shift):
            h, last = linear_scan(*xs[:2], h0=xs[2], reset=reset.to(dev), reverse=reverse,
                                  return_final=True, backend=backend)  # fmt: skip
            grads = torch.autograd.grad((h * w.to(dev, dtype)).sum() + last.square().sum(), xs)
        if backend == "triton":
            assert h.stride()[1] == 1, h.stride()  # the output keeps the input's layout
        outs.append([x.detach().cpu() for x in (h, last, *grads)])
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], *outs, strict=True):
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"
    if case == ("tv", False):  # bf16 in and out (fp32 inside)
        xs = [x.to(TRITON_DEV, torch.bfloat16).detach().requires_grad_() for x in (a, b, h0)]
        with scan_config(variant, tile, t_major=True, rev_scan=rev, shift_rows=shift):
            h, last = linear_scan(*xs[:2], h0=xs[2], reset=reset.to(TRITON_DEV),
                                  return_final=True, backend="triton")  # fmt: skip
            loss = (
                h * w.to(TRITON_DEV, torch.bfloat16)
            ).float().sum() + last.float().square().sum()
            grads = torch.autograd.grad(loss, xs)
        for name, x, r in zip(["h", "final", "da", "db", "dh0"], (h, last, *grads), outs[1],
                              strict=True):  # fmt: skip
            assert x.dtype == torch.bfloat16 and rel_err(x.cpu(), r) < 3e-2, name


# The T-major backward tiles (BLOCK_N = 1, as on the GPU) shift a_{t+1} and h_{t-1} by a row in
# registers and take the rows outside a tile from their own loads: odd and one-step lengths,
# partial first tiles, prefetch on and off, fp32 and bf16.
@pytest.mark.parametrize("length", [1, 7, 1000])
@pytest.mark.parametrize("kind", ["tv", "ti"])
@pytest.mark.parametrize(
    "prefetch,rev,shift,groups",
    [(False, False, False, False), (True, False, False, False), (True, True, False, False),
     (True, True, True, False), (False, True, True, False), (True, True, True, True),
     (False, True, True, True)],
)  # fmt: skip
def test_triton_t_major_lengths(length, kind, prefetch, rev, shift, groups, nan_outputs):
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    bsz, n = 2, 3
    g = torch.Generator().manual_seed(14)
    b = torch.randn(bsz, n, length, generator=g).transpose(1, 2)
    a = torch.rand(*((bsz, n, length) if kind == "tv" else (1, n, 1)), generator=g) * 0.5 + 0.5
    a = a.transpose(1, 2) if kind == "tv" else a.transpose(1, 2).contiguous()
    h0 = torch.randn(bsz, n, generator=g)
    reset = torch.rand(bsz, length, generator=g) < 0.05
    tile = (16, 1, 1) if length < 1000 else (64, 1, 1)
    for dtype, tol in ((torch.float32, 2e-5), (torch.bfloat16, 3e-2), (torch.float16, 3e-2)):
        rounded = [x.to(dtype).double() for x in (a, b, h0)]
        ref = run_with_grads("naive", *rounded, reset, False, torch.float64)
        with scan_config("single", tile, t_major=True, prefetch=prefetch, rev_scan=rev,
                         shift_rows=shift, groups=groups):  # fmt: skip
            xs = [x.to(TRITON_DEV) for x in (a, b, h0)]
            got = run_with_grads("triton", *xs, reset.to(TRITON_DEV), False, dtype)
        assert got[0].stride()[1] == 1 or length == 1  # scanned (and written) T-major
        for name, x, r in zip(["h", "final", "da", "db", "dh0"], got, ref, strict=True):
            assert rel_err(x, r) < tol, f"{dtype} {name}: {rel_err(x, r)}"


# The register-groups backward (triton_groups.py): steps of a group on both sides of t = 0 and of
# a tile edge (T not a multiple of 4 or of BLOCK_T), every a layout, with and without resets, h0
# and the final state's gradient; the launch really runs the groups kernel.
@pytest.mark.parametrize("length", [1, 6, 37, 64])
@pytest.mark.parametrize("kind", ["tv", "shared", "ti", "ti_b"])
@pytest.mark.parametrize("extras", [True, False], ids=["reset_h0_final", "plain"])
def test_triton_t_major_groups_match_naive(length, kind, extras, monkeypatch, nan_outputs):
    from worldssm.kernels.linear_scan import triton_scan as ts
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    launched = []
    real_launch = ts._launch
    monkeypatch.setattr(
        ts,
        "_launch",
        lambda kernel, *a, **k: launched.append(kernel) or real_launch(kernel, *a, **k),
    )
    bsz, n = 2, 3
    g = torch.Generator().manual_seed(15)
    b = torch.randn(bsz, n, length, generator=g).transpose(1, 2)
    a = t_major_a(kind, bsz, length, n, g) * 0.8 + 0.2
    h0 = torch.randn(bsz, n, generator=g) if extras else None
    reset = (torch.rand(bsz, length, generator=g) < 0.15) if extras else None
    w = torch.randn(bsz, length, n, generator=g, dtype=torch.float64)
    outs = []
    for backend, dtype, dev in (
        ("triton", torch.float32, TRITON_DEV),
        ("naive", torch.float64, "cpu"),
    ):
        xs = [
            x.to(dev, dtype).detach().requires_grad_() for x in (a, b) + ((h0,) if extras else ())
        ]
        with scan_config("single", (8, 1, 1), t_major=True, groups=True):
            h, last = linear_scan(*xs[:2], h0=xs[2] if extras else None,
                                  reset=None if reset is None else reset.to(dev),
                                  return_final=True, backend=backend)  # fmt: skip
            loss = (h * w.to(dev, dtype)).sum() + (last.square().sum() if extras else 0)
            grads = torch.autograd.grad(loss, xs)
        outs.append([x.detach().cpu() for x in (h, last, *grads)])
    assert ts._scan_bwd_groups_kernel in launched or length == 1  # T=1 is not T-major
    for name, x, r in zip(["h", "final", "da", "db", "dh0"], *outs, strict=False):
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"


def test_triton_t_major_automatic(monkeypatch):
    """T_MAJOR = None: long, forward-order scans of a real T-contiguous b run T-major; short,
    reverse, complex and (B, T, N)-contiguous inputs do not; scan_config overrides it."""
    from worldssm.kernels.linear_scan import triton_scan as ts

    monkeypatch.setattr(ts, "T_MAJOR", None)
    monkeypatch.setattr(ts, "T_MAJOR_MIN_T", 64)
    long_b = torch.randn(2, 3, 64).transpose(1, 2)
    assert ts.use_t_major(long_b) and not ts.use_t_major(long_b, reverse=True)
    assert not ts.use_t_major(torch.randn(2, 3, 63).transpose(1, 2))
    assert not ts.use_t_major(long_b.contiguous())
    assert not ts.use_t_major(torch.randn(2, 3, 64, dtype=torch.complex64).transpose(1, 2))
    with ts.scan_config(t_major=False):
        assert not ts.use_t_major(long_b)
    a = torch.rand(1, 1, 3) * 0.5 + 0.5
    with ts.scan_config("single", (16, 1, 1)):
        h = linear_scan(a.to(TRITON_DEV), long_b.to(TRITON_DEV), backend="triton")
    assert h.stride()[1] == 1  # scanned in place
    ref = linear_scan(a.double(), long_b.double(), backend="naive")
    assert rel_err(h, ref) < 2e-5


def test_triton_backward_keeps_forced_config_on_another_thread(monkeypatch):
    """Autograd runs CUDA backwards on a worker thread that does not see the caller's
    scan_config; the forward must hand it over (here the backward runs on a thread of its own)."""
    import threading

    from worldssm.kernels.linear_scan import triton_scan
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    seen = []
    launch = triton_scan._launch
    monkeypatch.setattr(
        triton_scan,
        "_launch",
        lambda kernel, c, *a, **k: seen.append(c) or launch(kernel, c, *a, **k),
    )
    (a, b, _, _), _ = make_inputs((2, 9, 5), None, TRITON_DEV, seed=6)
    a, b = (x.detach().float().requires_grad_() for x in (a, b))
    with scan_config("chunked", tile=(4, 8, 1), bwd_tile=(2, 16, 1), prefetch=True):
        h = linear_scan(a, b, backend="triton")
    worker = threading.Thread(target=lambda: h.sum().backward())
    worker.start()
    worker.join()
    assert b.grad is not None
    fwd, bwd = seen
    assert (fwd.variant, fwd.block_t, fwd.block_n, fwd.prefetch) == ("chunked", 4, 8, True)
    assert (bwd.variant, bwd.block_t, bwd.block_n, bwd.prefetch) == ("chunked", 2, 16, True)


def test_triton_graph_has_one_node_for_any_state_shape(nan_outputs):
    """(B, T, *S) inputs and a broadcast a are flattened inside the autograd Function: no view or
    expand nodes (each runs on autograd's device thread in the backward), and grads still come
    back in the callers' shapes."""
    g = torch.Generator().manual_seed(16)
    b = torch.randn(2, 9, 3, 2, 2, generator=g).to(TRITON_DEV).requires_grad_()
    a = (torch.rand(3, 1, 1, generator=g) * 0.5 + 0.5).to(TRITON_DEV).requires_grad_()
    h0 = torch.randn(2, 3, 2, 2, generator=g).to(TRITON_DEV).requires_grad_()
    h, last = linear_scan(a, b, h0=h0, return_final=True, backend="triton")
    assert h.shape == b.shape and last.shape == h0.shape
    node = h.grad_fn
    assert type(node).__name__ == "TritonLinearScanBackward", node
    assert all(type(f).__name__ == "AccumulateGrad" for f, _ in node.next_functions if f)
    (h.square().sum() + last.sum()).backward()
    ref = [x.detach().double().requires_grad_() for x in (a, b, h0)]
    hr, lr = linear_scan(*ref[:2], h0=ref[2], return_final=True, backend="naive")
    (hr.square().sum() + lr.sum()).backward()
    for x, r in zip((a, b, h0), ref, strict=True):
        assert x.grad.shape == x.shape and rel_err(x.grad, r.grad) < 2e-5


def test_triton_launch_flags_for_pipelined_lane_tiles():
    """Pipelined lane tiles get STAGES and int32 offsets (OFF32) only while T x N fits in int32;
    other tiles launch with neither (their kernels' defaults)."""
    from worldssm.kernels.linear_scan import triton_scan as ts
    from worldssm.kernels.linear_scan.triton_tiles import Choice

    class Recorder:  # stands in for a jitted kernel: kernel[grid](*args, **flags)
        def __getitem__(self, grid):
            def launch(*args, **flags):
                self.grid, self.args, self.flags = grid, args, flags

            return launch

    strides = dict.fromkeys(("stride_ab", "stride_at", "stride_an", "stride_xb", "stride_xt",
                             "stride_xn"), 1)  # fmt: skip
    lane = Choice("single", 16, 64, 1, lane_cols=True, stages=4)
    cases = [
        (lane, 65536, 1536, {"STAGES": 4, "OFF32": True}),
        (lane, 1 << 20, 1536, {"STAGES": 4}),  # T x N x 2 past 2^31: int64 offsets
        (Choice("single", 16, 64, 1, lane_cols=True), 65536, 1536, {}),  # no stages
        (Choice("single", 16, 256, 2, stages=3), 300, 1536, {"STAGES": 3}),  # not a lane tile
    ]
    for c, length, n, want in cases:
        rec = Recorder()
        ts._launch(rec, c, 2, length, n, "cpu", False, (None,) * 6, STRIDED=False, **strides)
        got = {k: rec.flags[k] for k in ("STAGES", "OFF32") if k in rec.flags}
        assert got == want, (c, length, got)
        assert rec.grid == (2 * (n // c.block_n),)
    # Chunks of 4 tiles: a quarter of the programs and states (64 steps = 4 tiles, 1 chunk).
    rec = Recorder()
    c = Choice("chunked", 16, 64, 1, lookback=2, chunk_tiles=4)
    ts._launch(rec, c, 2, 64, 128, "cpu", False, (None,) * 6, STRIDED=False, **strides)
    assert rec.grid == (2 * 2 * 1,) and rec.flags["CHUNK_TILES"] == 4
    assert rec.args[7].numel() == 2 * 1 * 128 * 2
    # Chunks: look-back doubles the state words (P and S) and passes its window.
    for lookback, words in ((0, 1), (4, 2)):
        rec = Recorder()
        c = Choice("chunked", 16, 64, 1, lookback=lookback)
        ts._launch(rec, c, 2, 64, 128, "cpu", False, (None,) * 6, STRIDED=False, **strides)
        state = rec.args[7]  # after the 6 tensors and the ticket counter
        assert state.numel() == 2 * 4 * 128 * words  # B x chunks x N x words
        assert rec.flags.get("LOOKBACK", 0) == lookback
        assert rec.grid == (2 * 2 * 4,)


def test_triton_variant_choice_by_shape(monkeypatch):
    from worldssm.kernels.linear_scan import triton_lane_tiles, triton_tiles
    from worldssm.kernels.linear_scan.triton_tiles import choose, scan_config

    long_narrow = choose(8, 65536, 1536, "f32", False, False, interpreted=False)
    assert long_narrow.variant == "single"  # chunked is opt-in (AUTO_CHUNKED)
    monkeypatch.setattr(triton_tiles, "AUTO_CHUNKED", True)
    assert choose(8, 65536, 1536, "f32", False, False, interpreted=False).variant == "chunked"
    monkeypatch.setattr(triton_tiles, "AUTO_CHUNKED", False)
    video = choose(8, 300, 65536, "f32", False, True, interpreted=False)
    assert (video.variant, video.block_t, video.block_n, video.num_warps) == ("single", 16, 256, 2)
    assert choose(8, 100, 1536, "f16", False, False, interpreted=False).variant == "single"
    # bf16 / fp16, few columns, long: the lane_cols tiles of NARROW_LANE (fp32 keeps NARROW)
    lane = choose(8, 65536, 1536, "f16", False, True, interpreted=False)
    assert (lane.variant, lane.block_n, lane.lane_cols) == ("chunked", 64, True)
    assert choose(8, 65536, 1536, "f16", True, False, interpreted=False).variant == "single"
    # ... pipelined single passes from LANE_SINGLE_MIN_COLUMNS columns on (batch 57), chunks
    # below (fewer programs than SMs otherwise)
    lane = choose(8, 65536, 1536, "f16", False, False, interpreted=False)
    assert (lane.variant, lane.block_t, lane.stages, lane.lane_cols) == ("single", 16, 4, True)
    # ... except the backward with a time-invariant a: look-back chunks of 8 tiles (batch 70)
    bwd = choose(8, 65536, 1536, "f16", True, True, interpreted=False)
    assert (bwd.variant, bwd.block_t, bwd.lookback, bwd.chunk_tiles) == ("chunked", 16, 2, 8)
    short = choose(8, 2048, 1536, "f16", True, True, interpreted=False)  # ... from T=4096 on
    assert (short.variant, short.stages) == ("single", 3)
    few = choose(1, 65536, 1536, "f16", False, False, interpreted=False)
    assert (few.variant, few.stages, few.lane_cols, few.lookback) == ("chunked", 1, True, 2)
    # ... in chunks of several tiles (batch 68), fewer where T is short (CHUNK_TILES_MIN_CHUNKS)
    assert few.chunk_tiles == 4
    few = choose(1, 65536, 1536, "f16", False, True, interpreted=False)
    assert (few.block_t, few.chunk_tiles) == (16, 8)
    min_chunks = triton_lane_tiles.CHUNK_TILES_MIN_CHUNKS
    short = choose(1, 16 * 4 * min_chunks, 1536, "f16", False, True, interpreted=False)
    assert short.chunk_tiles == 4
    assert choose(1, 16 * min_chunks, 1536, "f16", False, True, interpreted=False).chunk_tiles == 1
    with scan_config(chunk_tiles=8):  # unless forced
        assert choose(1, 1024, 1536, "f16", False, True, interpreted=False).chunk_tiles == 8
    # ... fp32 with few columns too (F32_LANE_BELOW_COLUMNS), with a look-back chain
    few = choose(1, 65536, 1536, "f32", True, True, interpreted=False)
    assert (few.variant, few.lane_cols, few.lookback, few.chunk_tiles) == ("chunked", True, 2, 8)
    # fp32 chunks of one tile with a time-varying a (several were slower there, batch 68)
    assert choose(1, 65536, 1536, "f32", False, True, interpreted=False).chunk_tiles == 1
    assert choose(2, 65536, 1536, "f32", True, True, interpreted=False).lookback == 2
    assert not choose(4, 65536, 1536, "f32", True, True, interpreted=False).lane_cols
    # ... and bf16 up to LANE_SINGLE_MIN_COLUMNS (8,192), both passes
    assert choose(4, 65536, 1536, "f16", True, True, interpreted=False).lookback == 2
    assert choose(4, 65536, 1536, "f16", True, False, interpreted=False).variant == "chunked"
    assert choose(6, 65536, 1536, "f16", True, False, interpreted=False).variant == "single"
    with scan_config(lookback=0):  # the strict chain on request
        assert choose(1, 65536, 1536, "f32", True, True, interpreted=False).lookback == 0
    assert not choose(8, 65536, 1536, "f32", False, True, interpreted=False).lane_cols
    assert choose(8, 1024, 1536, "f16", False, False, interpreted=False).lane_cols
    assert not choose(8, 512, 1536, "f16", False, False, interpreted=False).lane_cols
    with scan_config(lane_cols=False):
        off = choose(8, 65536, 1536, "f16", False, False, interpreted=False)
    assert (off.variant, off.block_n, off.lane_cols) == ("single", 32, False)
    with scan_config(tile=(64, 32, 1)):  # a forced tile keeps the layout unless asked
        assert not choose(8, 65536, 1536, "f16", False, False, interpreted=False).lane_cols
    # T-major, T shorter than the tile: BLOCK_T covers T, 8+ steps a thread
    short = choose(8, 300, 1536, "f16", False, False, interpreted=False, t_major=True)
    assert (short.block_t, short.block_n, short.num_warps) == (512, 1, 2)
    short = choose(8, 5, 1536, "f32", True, True, interpreted=False, t_major=True)
    assert (short.block_t, short.num_warps) == (32, 1)
    # shift_rows: only for the T-major rev_scan backward
    with scan_config(shift_rows=True):
        assert choose(8, 65536, 1536, "f16", True, True, interpreted=False, t_major=True).shift
        assert not choose(8, 65536, 1536, "f16", True, True, interpreted=False).shift
        assert not choose(8, 65536, 1536, "f16", True, False, interpreted=False, t_major=True).shift
    # T-major backward: rows in increasing time, scanned with reverse=True (rev_scan) by default
    tm = choose(8, 65536, 1536, "f32", True, True, interpreted=False, t_major=True)
    assert tm.rev and tm.groups and (tm.block_t, tm.block_n) == (2048, 1)  # batch 51's pick
    assert not choose(8, 65536, 1536, "f32", True, False, interpreted=False, t_major=True).rev
    tm = choose(8, 65536, 1536, "f16", True, True, interpreted=False, t_major=True)
    assert tm.groups and (tm.block_t, tm.num_warps) == (256, 1)
    with scan_config(rev_scan=False):
        tm = choose(8, 65536, 1536, "f16", False, True, interpreted=False, t_major=True)
        assert not tm.rev and not tm.shift
    # groups: the T-major single-pass backward of one-column tiles only
    with scan_config(groups=True):
        assert choose(8, 65536, 1536, "f16", True, True, interpreted=False, t_major=True).groups
        assert not choose(
            8, 65536, 1536, "f16", True, False, interpreted=False, t_major=True
        ).groups
        assert not choose(8, 65536, 1536, "f16", True, True, interpreted=False).groups
    with scan_config(groups=True, bwd_tile=(64, 2, 1)):
        assert not choose(8, 65536, 1536, "f32", True, True, interpreted=False, t_major=True).groups
    with scan_config(groups=False):
        assert not choose(8, 65536, 1536, "f32", True, True, interpreted=False, t_major=True).groups
    with scan_config("chunked", tile=(16, 8, 2), bwd_tile=(32, 8, 1)):
        fwd = choose(8, 300, 65536, "c64", True, False, interpreted=False)
        bwd = choose(8, 300, 65536, "c64", True, True, interpreted=False)
    assert (fwd.variant, fwd.block_t, bwd.block_t, bwd.num_warps) == ("chunked", 16, 32, 1)
    with pytest.raises(ValueError, match="variant"):
        with scan_config("fast"):
            pass
    with pytest.raises(ValueError, match="tile"):
        with scan_config(tile=(12, 8, 1)):
            pass
    with scan_config(tile=(4, 256, 1), prefetch=True):
        assert choose(8, 300, 65536, "f16", True, True, interpreted=False).prefetch
    # stages: the single pass only (a chunk is one tile), the backward's own when given
    with scan_config("single", stages=4, bwd_stages=2):
        assert choose(8, 65536, 1536, "f16", False, False, interpreted=False).stages == 4
        assert choose(8, 65536, 1536, "f16", False, True, interpreted=False).stages == 2
    with scan_config("chunked", stages=4):
        assert choose(8, 65536, 1536, "f16", False, False, interpreted=False).stages == 1
    with pytest.raises(ValueError, match="stages"):
        with scan_config(stages=0):
            pass
    # lookback: the chunked variant only (a single pass has no chain)
    with scan_config("chunked", lookback=4):
        assert choose(8, 65536, 1536, "f16", False, True, interpreted=False).lookback == 4
    with scan_config("single", lookback=4):
        assert choose(8, 65536, 1536, "f16", False, True, interpreted=False).lookback == 0
    for bad in (-1, 3, 1.0):
        with pytest.raises(ValueError, match="lookback"):
            with scan_config(lookback=bad):
                pass
        with pytest.raises(ValueError, match="chunk_tiles"):
            with scan_config(chunk_tiles=bad):
                pass
    # chunk_tiles: chunks only
    with scan_config("chunked", chunk_tiles=4):
        assert choose(1, 65536, 1536, "f16", False, True, interpreted=False).chunk_tiles == 4
    with scan_config("single", chunk_tiles=4):
        assert choose(1, 65536, 1536, "f16", False, True, interpreted=False).chunk_tiles == 1


# --- complex64 as packed int64 words (triton_io.py) against the naive loop and the pair path ---
PACKED_CASES = [
    # (variant, tile, shape, a_shape, reverse, with_reset, with_h0)
    ("single", (8, 4, 1), (2, 21, 3), None, False, True, True),  # odd T, masked column tail
    ("single", (4, 8, 1), (2, 13, 5), (1, 1, 5), True, True, True),  # time-invariant, reverse
    ("single", (8, 4, 1), (3, 9, 2, 3), (1, 9, 2, 3), False, False, False),  # shared over B
    ("chunked", (4, 8, 1), (2, 21, 3), None, True, True, True),
    ("chunked", (8, 4, 1), (2, 37, 5), (2, 1, 5), False, True, False),  # per-batch invariant
]


@pytest.mark.parametrize("case", PACKED_CASES, ids=lambda c: f"{c[0]}-{c[2]}-{c[3]}-r{c[4]}")
def test_triton_complex_packed_matches_naive(case, nan_outputs):
    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    variant, tile, shape, a_shape, reverse, with_reset, with_h0 = case
    (a, b, h0, reset), cpu_in = make_inputs(shape, None, TRITON_DEV, a_shape, True, seed=11)
    reset = reset if with_reset else None
    leaves = [x.detach().to(torch.complex64).requires_grad_() for x in (a, b, h0)]
    wide = [x.detach().requires_grad_() for x in cpu_in[:3]]
    outs = []
    cpu_reset = cpu_in[3] if with_reset else None  # the naive run is on the CPU (GPU box)
    for xs, backend, packed, rs in (
        (leaves, "triton", True, reset),
        (wide, "naive", None, cpu_reset),
    ):
        with scan_config(variant, tile, packed=packed):
            h, last = linear_scan(xs[0], xs[1], h0=xs[2] if with_h0 else None, reset=rs,
                                  reverse=reverse, return_final=True, backend=backend)  # fmt: skip
        g = torch.Generator().manual_seed(2)
        w = torch.randn(h.shape, generator=g, dtype=torch.complex128).to(h.device, h.dtype)
        loss = (h * w).real.sum() + (last * last.conj()).real.sum()
        grads = torch.autograd.grad(loss, xs if with_h0 else xs[:2])
        outs.append([h, last, *grads])
    names = ["h", "final", "da", "db", "dh0"]
    for name, x, r in zip(names, *outs, strict=False):
        assert x.shape == r.shape, name
        assert rel_err(x, r) < 2e-5, f"{name}: {rel_err(x, r)}"


def test_triton_complex_packed_equals_pairs():
    """Packed and pair I/O compute the same float32 operations: the same bits in the CPU
    interpreter; compiled for a GPU the two kernels may fuse multiply-adds differently (seen on an
    H100), so there only float32 rounding may separate them."""
    from worldssm.kernels.linear_scan.triton_tiles import choose, scan_config

    (a, b, h0, reset), _ = make_inputs((2, 17, 6), None, TRITON_DEV, None, True, seed=12)
    a, b, h0 = (x.to(torch.complex64) for x in (a, b, h0))
    got = []
    for packed in (False, True):
        with scan_config("single", (4, 8, 1), packed=packed):
            assert choose(2, 17, 6, "c64", False, False, True).packed == packed
            assert not choose(2, 17, 6, "f32", False, False, True).packed  # complex only
            got.append(linear_scan(a, b, h0=h0, reset=reset, backend="triton"))
    if got[0].is_cuda:
        assert rel_err(got[1], got[0]) < 1e-6
    else:
        assert torch.equal(got[0], got[1])


@pytest.mark.parametrize("a_shape", [None, (1, 1, 6)], ids=["a-tv", "a-ti"])
def test_triton_bwd_prefetch_equals_in_loop_loads(monkeypatch, a_shape):
    """The backward's one-tile load prefetch (BWD_PREFETCH) gives the same bits as loading each
    tile in its own iteration: several tiles, a partial last tile, resets, h0, both directions."""
    import importlib

    from worldssm.kernels.linear_scan.triton_tiles import scan_config

    ts = importlib.import_module("worldssm.kernels.linear_scan.triton_scan")
    (a, b, h0, reset), _ = make_inputs((2, 11, 6), None, TRITON_DEV, a_shape, True, seed=13)
    a, b, h0 = (x.to(torch.complex64) for x in (a, b, h0))
    for reverse in (False, True):
        got = []
        for prefetch in (False, True):
            monkeypatch.setattr(ts, "BWD_PREFETCH", prefetch)  # forced both ways
            leaves = [x.detach().requires_grad_() for x in (a, b, h0)]
            with scan_config("single", (4, 8, 1)):
                h = linear_scan(*leaves[:2], h0=leaves[2], reset=reset, reverse=reverse,
                                backend="triton")  # fmt: skip
                got.append(torch.autograd.grad(h.real.sum() + 0.5 * h.imag.sum(), leaves))
        for x, y in zip(*got, strict=True):
            assert torch.equal(x, y)
