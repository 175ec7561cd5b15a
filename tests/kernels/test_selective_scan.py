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
