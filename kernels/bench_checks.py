"""Correctness checks that open every benchmark run: default path vs the float64 naive loop."""

from __future__ import annotations

import torch

from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.selective_scan import selective_scan


def check_against_naive(device) -> list[dict]:
    """Quick correctness sweep of the default path vs the float64 naive loop on this device."""
    from worldssm.kernels.linear_scan import linear_scan_naive
    from worldssm.kernels.selective_scan import selective_scan_naive

    checks = []
    g = torch.Generator(device=device).manual_seed(1)
    for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2), (torch.complex64, 1e-4)):
        for reverse in (False, True):
            shape = (3, 1000, 5, 7)
            a = (torch.rand(shape, device=device, generator=g) * 0.3 + 0.7).to(dtype)
            if dtype.is_complex:
                a = a * torch.exp(1j * torch.rand(shape, device=device, generator=g))
            b = torch.randn(shape, device=device, generator=g).to(dtype)
            h0 = torch.randn(3, 5, 7, device=device, generator=g).to(dtype)
            reset = torch.rand(3, 1000, device=device, generator=g) < 0.01
            h = linear_scan(a, b, h0=h0, reset=reset, reverse=reverse)
            wide = torch.complex128 if dtype.is_complex else torch.float64
            ref, _ = linear_scan_naive(a.to(wide), b.to(wide), h0.to(wide), reset, reverse)
            err = ((h.to(wide) - ref).norm() / ref.norm()).item()
            checks.append({"op": "linear_scan", "dtype": str(dtype), "reverse": reverse,
                           "rel_err": err, "pass": err < tol})  # fmt: skip
    # Gradients (da, db, dh0) through the default path, with resets and a final-state gradient.
    for a_shape in ((4, 777, 300), (1, 1, 300)):
        a = (torch.rand(a_shape, device=device, generator=g) * 0.3 + 0.7).requires_grad_()
        b = torch.randn(4, 777, 300, device=device, generator=g, requires_grad=True)
        h0 = torch.randn(4, 300, device=device, generator=g, requires_grad=True)
        reset = torch.rand(4, 777, device=device, generator=g) < 0.01
        w = torch.randn(4, 777, 300, device=device, generator=g)
        grads = []
        for wide in (False, True):
            xs = [x.double() if wide else x for x in (a, b, h0)]
            h, last = linear_scan(*xs[:2], h0=xs[2], reset=reset, return_final=True,
                                  backend="naive" if wide else None)  # fmt: skip
            grads.append(torch.autograd.grad((h * w).sum() + last.sum(), (a, b, h0)))
        err = max(((x.double() - r).norm() / r.norm()).item() for x, r in zip(*grads, strict=True))
        checks.append({"op": "linear_scan grads", "dtype": f"float32 a{a_shape}",
                       "rel_err": err, "pass": err < 1e-4})  # fmt: skip
    if device.type == "cuda":
        checks += _check_triton_variants(device, g)
    for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2)):
        u, delta, z = (torch.randn(2, 64, 300, device=device, generator=g).to(dtype)
                       for _ in range(3))  # fmt: skip
        Bm, Cm = (torch.randn(2, 16, 300, device=device, generator=g).to(dtype) for _ in range(2))
        A = -torch.rand(64, 16, device=device, generator=g) - 0.5
        D, bias = torch.randn(64, device=device, generator=g), torch.randn(64, device=device)
        out = selective_scan(u, delta, A, Bm, Cm, D, z, bias, delta_softplus=True)
        wide = [x.double() for x in (u, delta, A, Bm, Cm, D, z, bias)]
        ref, _ = selective_scan_naive(*wide, delta_softplus=True)
        err = ((out.double() - ref).norm() / ref.norm()).item()
        checks.append({"op": "selective_scan", "dtype": str(dtype), "rel_err": err,
                       "pass": err < tol})  # fmt: skip
    # Gradients of every input, 96 channels (several channel blocks share dB/dC accumulators).
    leaves = [
        torch.randn(s, device=device, generator=g, dtype=torch.float64).requires_grad_()
        for s in ((2, 96, 200), (2, 96, 200), (2, 2, 16, 200), (2, 2, 16, 200), (2, 96, 200))
    ]
    A = -torch.rand(96, 16, device=device, generator=g, dtype=torch.float64) - 0.5
    D = torch.randn(96, device=device, generator=g, dtype=torch.float64)
    A.requires_grad_(), D.requires_grad_()
    grads = []
    for wide in (False, True):
        u, delta, Bm, Cm, z = (x if wide else x.float() for x in leaves)
        a_, d_ = (A, D) if wide else (A.float(), D.float())
        out = selective_scan(u, delta, a_, Bm, Cm, d_, z, delta_softplus=True,
                             backend="naive" if wide else None)  # fmt: skip
        grads.append(torch.autograd.grad(out.double().sum(), [*leaves, A, D]))
    err = max(((x - r).norm() / r.norm()).item() for x, r in zip(*grads, strict=True))
    checks.append({"op": "selective_scan grads", "dtype": "float32, G=2", "rel_err": err,
                   "pass": err < 1e-4})  # fmt: skip
    return checks


def _check_triton_variants(device, g) -> list[dict]:
    """Both Triton variants (single pass, chunked) forced, at their real tiles, vs naive.

    Shapes have many chunks and column tiles, so the chunked chain runs concurrently on the GPU;
    the last check repeats the chunked scan of a long narrow input to catch a racy chain.
    """
    from worldssm.kernels.linear_scan import linear_scan_naive
    from worldssm.kernels.linear_scan.triton_scan import scan_config

    checks = []
    for variant in ("single", "chunked"):
        for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2), (torch.complex64, 1e-4)):
            for a_shape in ((4, 2048, 384), (1, 1, 384)):
                a = (torch.rand(a_shape, device=device, generator=g) * 0.3 + 0.7).to(dtype)
                if dtype.is_complex:
                    a = a * torch.exp(1j * torch.rand(a_shape, device=device, generator=g))
                b = torch.randn(4, 2048, 384, device=device, generator=g).to(dtype)
                h0 = torch.randn(4, 384, device=device, generator=g).to(dtype)
                reset = torch.rand(4, 2048, device=device, generator=g) < 0.002
                w = torch.randn(4, 2048, 384, device=device, generator=g).to(dtype)
                leaves = [x.detach().requires_grad_() for x in (a, b, h0)]
                wide = torch.complex128 if dtype.is_complex else torch.float64
                ref_leaves = [x.detach().to(wide).requires_grad_() for x in (a, b, h0)]
                err = 0.0
                for reverse in (False, True):
                    with scan_config(variant):
                        h, last = linear_scan(*leaves[:2], h0=leaves[2], reset=reset,
                                              reverse=reverse, return_final=True)  # fmt: skip
                        got = torch.autograd.grad(
                            (h * w).real.sum() + last.real.sum(), leaves
                        )  # the backward runs inside the forced variant too
                    ref, ref_last = linear_scan_naive(*ref_leaves[:2], ref_leaves[2], reset,
                                                      reverse)  # fmt: skip
                    ref_grads = torch.autograd.grad(
                        (ref * w.to(wide)).real.sum() + ref_last.real.sum(), ref_leaves
                    )
                    for x, r in zip([h, last, *got], [ref, ref_last, *ref_grads], strict=True):
                        err = max(err, ((x.to(wide) - r).norm() / r.norm()).item())
                checks.append({"op": f"linear_scan triton {variant} (+grads, reverse)",
                               "dtype": f"{dtype} a{a_shape}", "rel_err": err,
                               "pass": err < tol})  # fmt: skip
    # Race check: the chunked chain over 128 chunks x 384 column tiles, repeated.
    a = torch.rand(8, 16384, 1536, device=device, generator=g) * 0.2 + 0.8
    b = torch.randn(8, 16384, 1536, device=device, generator=g)
    with scan_config("single"):
        ref = linear_scan(a, b)
    err = 0.0
    with scan_config("chunked"):
        for _ in range(20):
            err = max(err, ((linear_scan(a, b) - ref).norm() / ref.norm()).item())
    checks.append({"op": "linear_scan triton chunked == single, 20 runs", "dtype": "float32",
                   "rel_err": err, "pass": err < 1e-5})  # fmt: skip
    return checks
