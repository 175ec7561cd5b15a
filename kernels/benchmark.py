"""Scan benchmarks: our paths against named peers at equal work, with achieved bandwidth.

Used by ``worldssm bench scan`` and ``benchmarks/scan.py``. Every figure is measured in the
same process: the device copy bandwidth first, then each case. Bandwidth uses the minimum bytes
(each input read once, each output written once): forward a, b -> h is 12 B/element in fp32
(8 B when a is time-invariant); forward+backward adds reading a, h, dh and writing da, db.
Peers run in their native layouts on equal element counts.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from worldssm.kernels import bench_timing
from worldssm.kernels.bench_checks import check_against_naive
from worldssm.kernels.bench_peers import JAX_SNIPPET, linear_peers, selective_decomposed
from worldssm.kernels.bench_timing import time_call
from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.triton_tiles import choose, scan_config
from worldssm.kernels.selective_scan import selective_scan


@dataclass
class Result:
    """One timed case; ``ms`` is the median over repeats."""

    op: str
    impl: str
    shape: str
    dtype: str
    variant: str
    pass_: str
    ms: float | None
    gbps: float | None = None
    frac_copy_bw: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def _timeit(fn: Callable[[], object], device: torch.device, reps: int = 20) -> float:
    """Median milliseconds of ``fn`` after warm-up (see :mod:`worldssm.kernels.bench_timing`)."""
    return time_call(fn, device, reps)[0]


def copy_bandwidth(device: torch.device, nbytes: int = 2 << 30) -> float:
    """Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written."""
    x = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    y = torch.empty_like(x)
    # Eager, not a graph replay: the captured copy (presumably a memcpy node) timed 2432 GB/s
    # against 3018 GB/s eager on the same H100 (GPU batch 27). One call moves 4 GB, long
    # enough that host launch overhead does not show.
    ms = time_call(lambda: y.copy_(x), device, mode="eager")[0]
    return 2 * nbytes / (ms * 1e-3) / 1e9


def _min_bytes(numel: int, elsize: int, a_const: bool, backward: bool) -> int:
    per = 2 if a_const else 3  # forward: (a), b, h
    if backward:
        per += 3 if a_const else 5  # backward: (a), h, dh -> db, (da)
    return numel * elsize * per


def _timed_call(fn, inputs, backward):
    """A closure that runs fn once (and its backward into fresh leaf grads).

    The upstream gradient is an input of the backward, made once outside the timed calls
    (until 2026-11-27 each call filled a fresh one: ~0.05 ms of bf16 at the video shape).
    """
    if not backward:
        return lambda: fn(*inputs)
    leaves = [x.detach().requires_grad_() for x in inputs]
    grad_out = []

    def run():
        for x in leaves:
            x.grad = None
        out = fn(*leaves)
        if not grad_out:
            grad_out.append(torch.ones_like(out))
        out.backward(grad_out[0])

    return run


def _in_config(run, variant, tile, bwd_tile=None):
    """``run`` (forward and backward) with the Triton linear-scan variant/tile forced."""

    def forced():
        with scan_config(variant, tile, bwd_tile):
            return run()

    return forced


def _triton_choice(b, a_const, backward) -> str:
    """The Triton variant and tiles linear_scan picks for b (B, T, *S), e.g. 'chunked fwd ...'."""
    bsz, length = b.shape[:2]
    kind = "c64" if b.is_complex() else ("f32" if b.dtype == torch.float32 else "f16")
    n = b[0, 0].numel()
    fwd = choose(bsz, length, n, kind, a_const, False, False)
    text = f"{fwd.variant} fwd {(fwd.block_t, fwd.block_n, fwd.num_warps)}"
    if backward:
        bwd = choose(bsz, length, n, kind, a_const, True, False)
        text += f", {bwd.variant} bwd {(bwd.block_t, bwd.block_n, bwd.num_warps)}"
    return text


# Tile sweep ("tiles" section): candidates around the defaults in triton_tiles.py.
CHUNKED_TILES = [(64, 32, 2), (128, 32, 4), (256, 32, 8), (128, 16, 2), (256, 16, 4), (128, 64, 4)]
COMPLEX_TILES = [(16, 128, 2), (16, 64, 2), (32, 64, 4), (8, 128, 2), (16, 32, 1), (8, 256, 4),
                 (4, 128, 1), (8, 64, 1), (4, 256, 2), (32, 32, 1), (16, 256, 4)]  # fmt: skip
HALF_BWD_TILES = [(16, 256, 2), (8, 512, 4), (32, 128, 1), (16, 128, 1)]


def bench_tiles(device, lengths, copy_bw, reps, sink=None) -> list[Result]:
    """Time our Triton kernels at a few forced tiles (same tile fwd and bwd; a time-varying).

    Long narrow shapes run the chunked variant (fp32, bf16); the video shape runs the single
    pass for complex64 and bf16. Read the best row per case into triton_tiles.py.
    """
    cases = [((8, t, (1536,)), dt, "chunked", CHUNKED_TILES)
             for t in lengths for dt in (torch.float32, torch.bfloat16)]  # fmt: skip
    cases += [((8, 300, (256, 16, 16)), torch.complex64, "single", COMPLEX_TILES),
              ((8, 300, (256, 16, 16)), torch.bfloat16, "single", HALF_BWD_TILES)]  # fmt: skip
    results = []
    for (bsz, length, state), dt, variant, tiles in cases:
        b = torch.randn(bsz, length, *state, device=device, dtype=dt)
        a = (torch.rand(b.shape, device=device) * 0.5 + 0.5).to(dt)
        shape_s = f"B={bsz} T={length} S={tuple(state)}"
        for backward in (False, True):
            nbytes = _min_bytes(b.numel(), b.element_size(), False, backward)
            for tile in tiles:
                fn = _in_config(_timed_call(linear_scan, (a, b), backward), variant, tile)
                mode = "fwd+bwd" if backward else "fwd"
                results.append(_run_case("linear_scan tiles", f"triton {variant} {tile}",
                                         shape_s, str(dt)[6:], f"a time-varying, {mode}", fn,
                                         device, nbytes, copy_bw, reps))  # fmt: skip
                print(_row(results[-1]), flush=True)
                if sink:
                    sink(results)
        del a, b
        torch.cuda.empty_cache()
    return results


def bench_linear(
    device, shapes, dtypes, modes, copy_bw, reps, peers=True, compile_peer=True, sink=None
):
    """Time linear_scan and its peers for every shape x dtype x a-variant x fwd/fwd+bwd.

    ``shapes``: (B, T, state_shape, complex) tuples; ``modes``: iterable of ``backward`` bools.
    """
    results = []
    for bsz, length, state, complex_ in shapes:
        for dtype in dtypes:
            if complex_ and dtype != torch.float32:
                continue
            dt = torch.complex64 if complex_ else dtype
            elsize = torch.empty((), dtype=dt).element_size()
            shape_s = f"B={bsz} T={length} S={tuple(state)}" + (" complex" if complex_ else "")
            for a_const in (False, True):
                b = torch.randn(bsz, length, *state, device=device, dtype=dt)
                ashape = (1, 1, *state) if a_const else (bsz, length, *state)
                a = (torch.rand(ashape, device=device) * 0.5 + 0.5).to(dt)
                variant = "a time-invariant" if a_const else "a time-varying"
                for backward in modes:
                    mode = "fwd+bwd" if backward else "fwd"
                    nbytes = _min_bytes(b.numel(), elsize, a_const, backward)
                    ours = "worldssm " + ("triton" if device.type == "cuda" else "torch")
                    impls = {ours: (linear_scan, (a, b))}
                    forced, note = {}, {}
                    if device.type == "cuda":
                        # The variant the shape picks, and the other one forced beside it.
                        note[ours] = _triton_choice(b, a_const, backward)
                        other = "single" if note[ours].startswith("chunked") else "chunked"
                        forced[f"worldssm triton ({other})"] = (other, None)
                        impls[f"worldssm triton ({other})"] = (linear_scan, (a, b))
                        if len(state) == 1 and not complex_:  # 1-D sequences: (B, C, T) data
                            impls["worldssm triton, T-contiguous input"] = (
                                linear_scan, _t_contiguous(a, b))  # fmt: skip
                            note["worldssm triton, T-contiguous input"] = (
                                "b stored (B, C, T): T-major in place when T >= 32")  # fmt: skip
                    if peers:
                        impls.update(linear_peers(a, b, device, backward, compile_peer))
                    for name, spec in impls.items():
                        fn = spec if isinstance(spec, str) else _timed_call(*spec, backward)
                        if name in forced:
                            fn = _in_config(fn, *forced[name])
                        results.append(_run_case("linear_scan", name, shape_s, str(dt)[6:],
                                                 f"{variant}, {mode}", fn, device, nbytes,
                                                 copy_bw, reps))  # fmt: skip
                        results[-1].note = results[-1].note or note.get(name, "")
                        print(_row(results[-1]), flush=True)
                        if sink:
                            sink(results)
                del a, b
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return results


def _t_contiguous(a, b):
    """a and b (B, T, C) as views of (B, C, T) storage (a broadcast over T stays as it is)."""

    def t_major(x):
        return x.transpose(1, 2).contiguous().transpose(1, 2)

    return (a if a.shape[1] == 1 else t_major(a)), t_major(b)


def _run_case(op, impl, shape, dtype, variant, fn, device, nbytes, copy_bw, reps) -> Result:
    if isinstance(fn, str):
        return Result(op, impl, shape, dtype, variant, "skipped", None, note=fn)
    try:
        ms, how = time_call(fn, device, reps)
    except Exception as e:  # noqa: BLE001 - a failing peer is a result, not a crash
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return Result(op, impl, shape, dtype, variant, "failed", None,
                      note=f"{type(e).__name__}: {str(e)[:200]}")  # fmt: skip
    gbps = nbytes / (ms * 1e-3) / 1e9 if nbytes else None
    frac = gbps / copy_bw if (gbps and copy_bw) else None
    return Result(op, impl, shape, dtype, variant, "ok", ms, gbps, frac, extra={"timing": how})


def _row(r: Result) -> str:
    ms = f"{r.ms:9.3f} ms" if r.ms is not None else f"{r.pass_:>12}"
    bw = f"{r.gbps:7.0f} GB/s {100 * r.frac_copy_bw:5.1f}%" if r.frac_copy_bw else " " * 20
    return f"{r.op:15} {r.shape:38} {r.dtype:9} {r.variant:28} {r.impl:36} {ms} {bw} {r.note[:60]}"


def bench_selective(device, shapes, dtypes, copy_bw, reps, naive=True, sink=None) -> list[Result]:
    """Time selective_scan against the naive loop and the decomposed PyTorch version."""
    from worldssm.kernels.selective_scan import selective_scan_naive

    results = []
    for bsz, d_inner, length, n in shapes:
        for dtype in dtypes:
            g = torch.Generator(device=device).manual_seed(0)
            kw = dict(device=device, dtype=dtype, generator=g)
            u = torch.randn(bsz, d_inner, length, **kw)
            delta = torch.randn(bsz, d_inner, length, **kw) * 0.5
            z = torch.randn(bsz, d_inner, length, **kw)
            Bm = torch.randn(bsz, n, length, **kw)
            Cm = torch.randn(bsz, n, length, **kw)
            f32 = dict(device=device, dtype=torch.float32, generator=g)
            A = -torch.rand(d_inner, n, **f32) - 0.5
            D = torch.randn(d_inner, **f32)
            bias = torch.randn(d_inner, **f32) * 0.1
            inputs = (u, delta, A, Bm, Cm, D, z, bias)
            elsize = u.element_size()
            io = (4 * u.numel() + 2 * Bm.numel()) * elsize  # u, delta, z, B, C in; out
            shape_s = f"B={bsz} D={d_inner} L={length} N={n}"
            impls = {
                "worldssm " + ("triton" if device.type == "cuda" else "torch"): (
                    lambda *x: selective_scan(*x, delta_softplus=True)
                ),
                "decomposed torch (materialised)": selective_decomposed,
            }
            if naive:
                impls["naive loop"] = lambda *x: selective_scan_naive(*x, delta_softplus=True)[0]
            for backward in (False, True):
                mode = "fwd+bwd" if backward else "fwd"
                nbytes = io * (3 if backward else 1)  # bwd: re-read inputs + dout, write grads
                for name, fn in impls.items():
                    if backward and name == "naive loop" and device.type == "cuda":
                        continue  # ~10 s a call on an H100; its forward is timed above
                    r = _run_case("selective_scan", name, shape_s, str(dtype)[6:], mode,
                                  _timed_call(fn, inputs, backward), device, nbytes, copy_bw,
                                  reps)  # fmt: skip
                    results.append(r)
                    print(_row(r), flush=True)
                    if sink:
                        sink(results)
            del u, delta, z, Bm, Cm
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def bench_jax(shapes, copy_bw) -> list[Result]:
    """jax.lax.associative_scan (fp32, time-varying a) in a subprocess, if jax is present."""
    cases = [[bsz, t, math.prod(s), bw] for bsz, t, s, cplx in shapes if not cplx
             for bw in (False, True)]  # fmt: skip
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    import os

    try:
        proc = subprocess.run([sys.executable, "-c", JAX_SNIPPET, json.dumps(cases)],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, **env})  # fmt: skip
    except subprocess.TimeoutExpired:
        return [Result("linear_scan", "jax associative_scan", "-", "float32", "-", "failed",
                       None, note="timed out")]  # fmt: skip
    line = [x for x in proc.stdout.splitlines() if x.startswith("JAXRESULT ")]
    if not line:
        return [
            Result(
                "linear_scan",
                "jax associative_scan",
                "-",
                "float32",
                "-",
                "skipped",
                None,
                note=(proc.stderr.strip().splitlines() or ["no output"])[-1][:200],
            )
        ]
    results = []
    for bsz, length, n, backward, ms, note in json.loads(line[0][10:]):
        nbytes = _min_bytes(bsz * length * n, 4, False, backward)
        gbps = nbytes / (ms * 1e-3) / 1e9 if ms else None
        mode = "fwd+bwd" if backward else "fwd"
        results.append(Result("linear_scan", "jax associative_scan (jit)",
                              f"B={bsz} T={length} N={n} (flattened)", "float32",
                              f"a time-varying, {mode}", "ok" if ms else "failed", ms, gbps,
                              gbps / copy_bw if gbps else None, note))  # fmt: skip
        print(_row(results[-1]), flush=True)
    return results


def environment(device) -> dict:
    """Card, versions and date for the results file."""
    import datetime

    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "python": platform.python_version(),
            "device": str(device), "cpu": platform.processor() or platform.machine()}  # fmt: skip
    if device.type == "cuda":
        info["card"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        pass
    return info


SECTIONS = ("video", "long", "selective", "jax", "tiles")
DEFAULT_SECTIONS = SECTIONS[:4]  # "tiles" (a tile sweep of our kernels) only when asked


def run(quick: bool, device: torch.device, out: str | None, peers: bool, jax: bool,
        command: str, sections=DEFAULT_SECTIONS, lengths=(1024, 16384, 65536),
        dtypes=("float32", "bfloat16"), long_batch: int = 8) -> dict:  # fmt: skip
    """Run the whole benchmark; writes JSON to ``out`` after every section.

    ``long_batch``: B of the 'long' section's (B, T, 1536) scans (the issue's shape is B=8).
    """
    timing = bench_timing.MODE if device.type == "cuda" else "cpu wall time"
    report = {**environment(device), "command": command, "quick": quick, "timing": timing}
    report["copy_bandwidth_GBps"] = copy_bw = copy_bandwidth(
        device, (256 << 20) if quick else (2 << 30)
    )
    print(f"device copy bandwidth: {copy_bw:.0f} GB/s (read + write)", flush=True)

    def save():
        if out:
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f, indent=1)
            import os

            os.replace(tmp, out)

    report["checks"] = check_against_naive(device)
    print("checks vs naive:", [(c["op"], c["dtype"], f"{c['rel_err']:.1e}", c["pass"])
                               for c in report["checks"]], flush=True)  # fmt: skip
    save()
    if quick:
        lin_shapes = [(2, 300, (16, 8, 8), False), (2, 300, (16, 8, 8), True),
                      (2, 4096, (64,), False)]  # fmt: skip
        sel_shapes = [(2, 64, 256, 16)]
        dtypes = [torch.float32]
    else:
        lin_shapes = []
        if "video" in sections:
            lin_shapes += [(8, 300, (256, 16, 16), False), (8, 300, (256, 16, 16), True)]
        if "long" in sections:
            lin_shapes += [(long_batch, t, (1536,), False) for t in lengths]
        sel_shapes = [(8, 1536, 2048, 16)] if "selective" in sections else []
        dtypes = [getattr(torch, d) for d in dtypes]
    done: list[Result] = []

    def sink(section: list[Result]) -> None:
        report["results"] = [asdict(r) for r in done + section]
        save()

    done += bench_linear(device, lin_shapes, dtypes, (False, True), copy_bw,
                         reps=10 if quick else 20, peers=peers,
                         compile_peer=peers and not quick, sink=sink)  # fmt: skip
    done += bench_selective(device, sel_shapes, dtypes, copy_bw, reps=10, naive=True, sink=sink)
    if "tiles" in sections and device.type == "cuda" and not quick:
        done += bench_tiles(device, lengths, copy_bw, reps=20, sink=sink)
    results = done
    if jax and "jax" in sections and device.type == "cuda":
        jax_shapes = [(8, 300, (256, 16, 16), False)] + [
            (8, t, (1536,), False) for t in (1024, 16384, 65536)
        ]
        results += bench_jax(jax_shapes, copy_bw)
        report["results"] = [asdict(r) for r in results]
        save()
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m worldssm.kernels.benchmark [--quick] [--out FILE]``."""
    import argparse

    p = argparse.ArgumentParser(description="Benchmark the scan kernels against peers.")
    add_arguments(p)
    args = p.parse_args(argv)
    return run_from_args(args, "python -m worldssm.kernels.benchmark " + " ".join(argv or []))


def add_arguments(p) -> None:
    """Flags shared by ``worldssm bench scan`` and ``benchmarks/scan.py``."""
    p.add_argument("--quick", action="store_true", help="small shapes (CPU-friendly)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    p.add_argument("--out", default=None, help="write the results JSON here")
    p.add_argument("--no-peers", action="store_true", help="time only worldssm's paths")
    p.add_argument("--no-jax", action="store_true", help="skip the jax peer")
    p.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (GPU sizes)",
    )
    p.add_argument("--lengths", default="1024,16384,65536",
                   help="sequence lengths of the 'long' section (B=8, C=1536)")  # fmt: skip
    p.add_argument("--long-batch", type=int, default=8,
                   help="B of the 'long' section (few columns: B=1 is 1,536)")  # fmt: skip
    p.add_argument("--dtypes", default="float32,bfloat16",
                   help="GPU sections: real dtypes (complex64 comes with float32)")  # fmt: skip
    p.add_argument("--timing", choices=("graph", "eager"), default="graph",
                   help="GPU: time CUDA-graph replays of each call (no host launch overhead; "
                        "the default) or plain eager calls")  # fmt: skip


def run_from_args(args, command: str) -> int:
    """Run with parsed flags; prints a table and writes JSON."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    quick = args.quick or device.type == "cpu"
    if quick and not args.quick:
        print("no GPU: running the quick CPU sizes", flush=True)
    sections = tuple(x for x in args.sections.split(",") if x)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown --sections {sorted(unknown)}; choose from {SECTIONS}")
    lengths = tuple(int(x) for x in args.lengths.split(",") if x)
    dtypes = tuple(x for x in args.dtypes.split(",") if x)
    bad = set(dtypes) - {"float32", "bfloat16", "float16"}
    if bad:
        raise SystemExit(f"unknown --dtypes {sorted(bad)}; choose from float32,bfloat16,float16")
    bench_timing.MODE = args.timing
    if args.long_batch < 1:
        raise SystemExit(f"--long-batch must be at least 1; got {args.long_batch}")
    report = run(quick, device, args.out, not args.no_peers, not args.no_jax, command, sections,
                 lengths, dtypes, args.long_batch)  # fmt: skip
    failed = [c for c in report["checks"] if not c["pass"]]
    if failed:
        print(f"CORRECTNESS CHECKS FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
