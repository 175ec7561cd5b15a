"""VFIMamba inference speed: 2x interpolation frames/s and peak memory at 720p, 1080p and 4K.

One interpolated frame per forward pass of a (img0, img1) pair batch, t = 0.5, random weights
(speed does not depend on them) unless ``--checkpoint`` is given. Frames are padded to the
model's multiple as the CLI does (1080 -> 1088). Each (model, resolution, precision) runs a
warm-up pass (Triton JIT, cuDNN autotune), then CUDA-synchronised passes until ``--repeats``
passes or ``--seconds`` have run; the feature extractor (where the Mixed-SSM scans run) is also
timed alone. An out-of-memory error is recorded, not fatal.

    python benchmarks/vfi_speed.py --out benchmarks/results/vfi-speed-h100.json     # one GPU
    python benchmarks/vfi_speed.py --quick --out /tmp/vfi_quick.json               # CPU check

Before/after in one run: ``--scan-variants gathered-seq,layouts-seq,layouts-chunked`` times every
setting under each SS2D/selective-scan variant (see VARIANTS) and records each variant's largest
output difference from the first one; ``--kernel`` first times the selective scan alone at the
VFIMamba-S 1080p shapes (sequential vs chunked forward, after a check against the float64 loop):

    python benchmarks/vfi_speed.py --models vfimamba_s --res 1080p --kernel \
        --scan-variants gathered-seq,layouts-seq,layouts-chunked --out /tmp/vfi-speed.json

``--fast-path`` adds rows (``"path": "fast"``) for the model after
``VFIMamba.prepare_for_inference`` (weights cast once to the row's precision, channels_last,
no autocast) next to the reference rows (``"path": "reference"``: fp32 weights, bf16 rows
under autocast), each with its largest output difference from the first row of its setting:

    python benchmarks/vfi_speed.py --models vfimamba_s --res 720p,1080p --fast-path \
        --out benchmarks/results/vfi-speed-fastpath-h100.json

``--cuda-graph`` adds ``"path": "fast+graph"`` rows: the prepared model replayed from a CUDA
graph captured for the setting's size (``GraphedVFIMamba``; eager static buffers on CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import itertools
import json
import platform
import subprocess
import sys
import time

import torch

import worldssm
from worldssm.kernels.backend import resolve_backend
from worldssm.models.vfimamba import pad_to_multiple

# name: (SS2D gathers four token copies (the previous formulation), forward chunk tiles: None =
# chosen per call (chunked at batch 1), 0 = the sequential forward, one program per channel block).
VARIANTS = {
    "gathered-seq": (True, 0),
    "layouts-seq": (False, 0),
    "layouts-chunked": (False, None),
}
RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}
MODELS = ("vfimamba_s", "vfimamba", "vfiflow_conv_s")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


@contextlib.contextmanager
def scan_variant(name: str, chunk_tiles: int | None = None):
    """Run the block under one of VARIANTS; ``chunk_tiles`` overrides the chunk size."""
    from worldssm.kernels.selective_scan import triton_scan
    from worldssm.layers.ss2d import SS2D

    gather, tiles = VARIANTS[name]
    saved = SS2D.gather_directions, triton_scan.CHUNK_TILES, triton_scan.AUTO_CHUNK
    SS2D.gather_directions = gather
    triton_scan.CHUNK_TILES = tiles if tiles == 0 or chunk_tiles is None else chunk_tiles
    triton_scan.AUTO_CHUNK = tiles != 0  # the chunked variants choose chunks per call
    try:
        yield
    finally:
        SS2D.gather_directions, triton_scan.CHUNK_TILES, triton_scan.AUTO_CHUNK = saved


def copy_bandwidth(device) -> float | None:
    """Device-to-device copy bandwidth in TB/s (read + write) of a 1 GiB buffer."""
    if device.type != "cuda":
        return None
    x = torch.empty(2**28, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    _sync(device)
    return 10 * 2 * x.numel() * 4 / (time.perf_counter() - t0) / 1e12


def _time_ms(fn, device, reps: int) -> float:
    fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    _sync(device)
    return 1e3 * (time.perf_counter() - t0) / reps


def bench_kernel(args, device) -> list[dict]:
    """The selective scan alone at VFIMamba-S's SS2D shapes (batch 1, 4 directions, N = 16).

    u (1, 2D, L) shared by the 4D scanned channels (two layouts), delta (1, 4D, L), grouped B/C
    (1, 4, 16, L), the two last groups reversed; D = 256 at 1/8 and 512 at 1/16 of the padded
    frame. Each row: sequential forward, chunked forward (chosen size and ``--chunk-tiles``
    sweep), max relative difference between them, and a float64 naive-loop check on the first
    ``check_len`` steps. Min bytes: u read once, delta read, out written (no (B, D, L, N) state).
    """
    from worldssm.kernels.selective_scan import selective_scan, triton_scan

    h, w = (RESOLUTIONS[args.kernel_res] if args.kernel_res in RESOLUTIONS
            else tuple(int(v) for v in args.kernel_res.split("x")))  # fmt: skip
    h, w = -(-h // 16) * 16, -(-w // 16) * 16
    bw = copy_bandwidth(device)
    rows = []
    for scale, d in ((8, 256), (16, 512)):
        length = 2 * (h // scale) * (w // scale)
        if args.quick:
            d, length = 8, 300
        g = torch.Generator(device=device).manual_seed(0)

        def r(*shape, g=g):
            return torch.randn(*shape, device=device, generator=g)

        flags = [False, False, True, True]
        base = dict(
            u=r(1, 2 * d, length), delta=r(1, 4 * d, length) * 0.5 - 1.0,
            A=-torch.exp(r(4 * d, 16) * 0.5), B=r(1, 4, 16, length), C=r(1, 4, 16, length),
            D=r(4 * d), delta_bias=r(4 * d) * 0.1,
        )  # fmt: skip
        for dtype in (torch.float32, torch.bfloat16):
            x = {k: v.to(dtype) if v.dim() == 3 or k in "BC" else v for k, v in base.items()}
            row = {"scale": f"1/{scale}", "D_scanned": 4 * d, "L": length, "dtype": str(dtype)}

            def call(x=x, flags=flags):
                return selective_scan(**x, delta_softplus=True, reverse=flags)

            with torch.inference_mode():
                n = min(length, args.check_len)
                cut = {k: v[..., :n] if v.dim() >= 3 else v for k, v in x.items()}
                wide = {k: v.double() for k, v in cut.items()}
                ref = selective_scan(**wide, delta_softplus=True, reverse=flags, backend="naive")
                triton_scan.CHUNK_TILES = 2  # small chunks so the check crosses chunk borders
                got = selective_scan(**cut, delta_softplus=True, reverse=flags)
                row["check_rel_err"] = ((got.double() - ref).norm() / ref.norm()).item()
                triton_scan.CHUNK_TILES = 0
                seq = call()
                row["sequential_ms"] = _time_ms(call, device, args.kernel_reps)
                sizes = ["auto"] + [v for v in args.chunk_tiles.split(",") if v]
                triton_scan.AUTO_CHUNK = True  # "auto": the per-call chunk choice
                for size in sizes:
                    triton_scan.CHUNK_TILES = None if size == "auto" else int(size)
                    out = call()
                    err = ((out.float() - seq.float()).norm() / seq.float().norm()).item()
                    row[f"chunked_{size}_ms"] = _time_ms(call, device, args.kernel_reps)
                    row[f"chunked_{size}_rel_diff"] = err
                triton_scan.CHUNK_TILES, triton_scan.AUTO_CHUNK = None, False
            nbytes = (x["u"].numel() + 2 * x["delta"].numel()) * x["u"].element_size()
            row["min_bytes"] = nbytes
            if bw:
                best = min(v for k, v in row.items() if k.endswith("_ms"))
                row["best_fraction_of_copy_bw"] = nbytes / (best * 1e-3) / (bw * 1e12)
            row["chunk_tiles_auto"] = triton_scan.chunk_tiles(
                4 * d // triton_scan.DEFAULT_FWD[0], -(-length // triton_scan.DEFAULT_FWD[1])
            )
            print(json.dumps(row), flush=True)
            rows.append(row)
    return [{"copy_bw_TBps": bw}] + rows


def bench_one(
    model,
    size,
    precision: str,
    args,
    device,
    reference=None,
    memory_format=torch.contiguous_format,
    amp: bool | None = None,
    graph: bool = False,
) -> dict:
    """Time ``model`` on one resolution and precision; returns a result row.

    The row's ``_pred`` is the first pass's output (float32), popped by the caller;
    ``reference``, when given, is that output under the first scan variant / path.
    ``amp``: run under bf16 autocast (default: for bf16 rows; False for a prepared model).
    ``graph``: replay the (prepared) model from a CUDA graph captured for this size (its
    capture time is in ``warmup_s``).
    """
    h, w = size
    row = {"height": h, "width": w, "precision": precision, "batch": args.batch}
    multiple = int(round(model.pad_multiple / args.scale))
    g = torch.Generator(device=device).manual_seed(0)
    img0 = torch.rand(args.batch, 3, h, w, device=device, generator=g)
    img1 = (img0 + 0.05 * torch.randn(img0.shape, device=device, generator=g)).clamp(0, 1)
    img0, _ = pad_to_multiple(img0, multiple)
    img1, _ = pad_to_multiple(img1, multiple)
    img0 = img0.contiguous(memory_format=memory_format)
    img1 = img1.contiguous(memory_format=memory_format)
    row["padded"] = list(img0.shape[-2:])
    amp = precision == "bf16" if amp is None else amp
    kwargs = {} if args.scale == 1 else {"scale": args.scale}

    def run():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            return model(img0, img1, 0.5, **kwargs)

    try:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        if graph:
            from worldssm.models.vfimamba import GraphedVFIMamba

            model = GraphedVFIMamba(model, img0.shape, device, scale=args.scale)
        pred = run()
        _sync(device)
        row["warmup_s"] = time.perf_counter() - t0
        if reference is not None:  # the same pass under the first variant
            row["max_abs_diff_vs_first_variant"] = (pred.float() - reference).abs().max().item()
        row["_pred"] = pred.float().clone()  # a graph's static output is overwritten later
        n, t0 = 0, time.perf_counter()
        while n < args.repeats and (n == 0 or time.perf_counter() - t0 < args.seconds):
            run()
            _sync(device)  # per pass, so the time budget check sees finished work
            n += 1
        elapsed = time.perf_counter() - t0
        row.update(passes=n, ms_per_pass=1e3 * elapsed / n, frames_per_s=n * args.batch / elapsed)
        if args.breakdown and not graph:
            # The feature extractor alone (where the Mixed-SSM scans run) on the same pair.
            pair = torch.cat([img0, img1], 0)
            if args.scale != 1:
                pair = torch.nn.functional.interpolate(pair, scale_factor=args.scale)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                model.encoder(pair)
                _sync(device)
                t0 = time.perf_counter()
                for _ in range(n):
                    model.encoder(pair)
                _sync(device)
            row["encoder_ms_per_pass"] = 1e3 * (time.perf_counter() - t0) / n
        if device.type == "cuda":
            row["peak_GiB"] = torch.cuda.max_memory_allocated(device) / 2**30
    except torch.OutOfMemoryError as e:
        row["error"] = f"OOM: {str(e).splitlines()[0]}"
    return row


def _load(name: str, args, device):
    if name.startswith("checkpoint:"):
        from worldssm.train.vfi_inference import load_interpolator

        model, _ = load_interpolator(name.removeprefix("checkpoint:"), device=device)
        return model
    return worldssm.create_model(name).to(device).eval()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny models and frames on CPU")
    p.add_argument("--models", default=",".join(MODELS), help="registry names, comma-separated")
    p.add_argument("--checkpoint", default=None, help="also time this trained checkpoint")
    p.add_argument("--res", default="720p,1080p,4k", help=f"from {sorted(RESOLUTIONS)} or HxW")
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--batch", type=int, default=1, help="frame pairs per pass")
    p.add_argument("--scale", type=float, default=1.0, help="flow at this scale (0.5, 0.25)")
    p.add_argument("--repeats", type=int, default=20, help="most timed passes per setting")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per setting")
    p.add_argument(
        "--scan-config", default=None, help="BLOCK_D,BLOCK_L,WARPS of the Triton scan forward"
    )
    p.add_argument(
        "--scan-variants",
        default="layouts-chunked",
        help=f"comma-separated, from {list(VARIANTS)}; every setting runs under each",
    )
    p.add_argument(
        "--memory-formats",
        default="contiguous",
        help="contiguous and/or channels_last (model and frames; cuDNN prefers NHWC in bf16)",
    )
    p.add_argument(
        "--paths",
        default="reference",
        help="reference and/or fast (prepare_for_inference: cast weights, channels_last)",
    )
    p.add_argument("--fast-path", action="store_true", help="same as --paths reference,fast")
    p.add_argument(
        "--cuda-graph", action="store_true", help="also fast-path rows replayed from a CUDA graph"
    )
    p.add_argument("--chunk-tiles", default="", help="chunked forward: tiles per chunk to sweep")
    p.add_argument("--kernel", action="store_true", help="time the selective scan alone first")
    p.add_argument("--kernel-res", default="1080p", help="frame size of the --kernel shapes")
    p.add_argument("--kernel-reps", type=int, default=20)
    p.add_argument("--check-len", type=int, default=2000, help="steps of the --kernel check")
    p.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip timing the feature extractor alone",
    )
    p.add_argument(
        "--infer-kernel",
        choices=["seq", "tile"],
        default=None,
        help="selective-scan forward without autograd (triton_scan.INFER_KERNEL); default: its own",
    )
    p.add_argument(
        "--seq-config", default="", help="BLOCK_D,warps,chunk_len of triton_seq (SEQ_CONFIG)"
    )
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.quick else "cpu")
    if args.quick:
        args.models = "vfimamba_tiny,vfiflow_conv_tiny"
        args.res, args.repeats, args.seconds = "64x96", 2, 1.0
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes: let cuDNN pick conv algorithms
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.infer_kernel:
        from worldssm.kernels.selective_scan import triton_scan
        from worldssm.layers.ss2d import SS2D

        triton_scan.INFER_KERNEL = args.infer_kernel
        # the tiled kernel's peer run keeps the layout it was tuned on
        SS2D.tokens_last_inference = args.infer_kernel == "seq"
    if args.seq_config:
        from worldssm.kernels.selective_scan import triton_seq

        triton_seq.SEQ_CONFIG = tuple(int(v) for v in args.seq_config.split(","))
    if args.scan_config:
        from worldssm.kernels.selective_scan import triton_scan

        triton_scan.FWD_CONFIG = tuple(int(v) for v in args.scan_config.split(","))
    names = [m for m in args.models.split(",") if m]
    if args.checkpoint:
        names.append(f"checkpoint:{args.checkpoint}")
    sizes = {}
    for r in args.res.split(","):
        sizes[r] = RESOLUTIONS[r] if r in RESOLUTIONS else tuple(int(v) for v in r.split("x"))
    variants = [v for v in args.scan_variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"unknown --scan-variants {unknown}; choose from {list(VARIANTS)}")
    paths = ["reference", "fast"] if args.fast_path else [v for v in args.paths.split(",") if v]
    if args.cuda_graph and "fast" not in paths:
        paths.append("fast")  # the graphed rows replay the prepared (fast) model
    if not paths or set(paths) - {"reference", "fast"}:
        p.error(f"--paths takes reference and/or fast; got {args.paths!r}")
    args.paths = ",".join(paths)
    memory_formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    formats = {f: memory_formats[f] for f in args.memory_formats.split(",") if f}
    kernel_rows = bench_kernel(args, device) if args.kernel else None
    rows = []
    precisions = [v for v in args.precisions.split(",") if v]
    for name in names:
        model = _load(name, args, device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        # The fast path: a prepared copy per precision (weights cast once, NHWC, no autocast).
        fast = {}
        if "fast" in paths:
            for precision in precisions:
                dtype = torch.bfloat16 if precision == "bf16" else torch.float32
                fast[precision] = copy.deepcopy(model).prepare_for_inference(dtype)
        with torch.inference_mode():
            for res, size in sizes.items():
                for precision in precisions:
                    first = None
                    runs = []  # (path, model, memory format, autocast)
                    if "reference" in paths:
                        runs += [("reference", model, fmt, None) for fmt in formats]
                    if "fast" in paths:
                        runs.append(("fast", fast[precision], "channels_last", False))
                    if args.cuda_graph:
                        runs.append(("fast+graph", fast[precision], "channels_last", False))
                    for (path, net, fmt, amp), variant in itertools.product(runs, variants):
                        if path == "reference":
                            net = net.to(memory_format=memory_formats[fmt])
                        row = {"model": name, "params_M": params, "res": res, "path": path,
                               "variant": variant, "memory_format": fmt}  # fmt: skip
                        with scan_variant(variant):
                            row |= bench_one(
                                net, size, precision, args, device, first, memory_formats[fmt],
                                amp, graph=path == "fast+graph",
                            )  # fmt: skip
                        pred = row.pop("_pred", None)
                        first = pred if first is None else first
                        print(json.dumps(row), flush=True)
                        rows.append(row)
        del model, fast
    result = {
        "benchmark": "vfi_speed",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "git_commit": _git_commit(),
        "scan_backend": resolve_backend(device),
        "infer_kernel": __import__(
            "worldssm.kernels.selective_scan.triton_scan", fromlist=["INFER_KERNEL"]
        ).INFER_KERNEL,
        "settings": {
            k: getattr(args, k)
            for k in (
                "quick",
                "batch",
                "scale",
                "repeats",
                "seconds",
                "precisions",
                "scan_config",
                "scan_variants",
                "paths",
                "cuda_graph",
                "chunk_tiles",
            )
        }  # fmt: skip
        | {"t": 0.5, "tf32": device.type == "cuda", "cudnn_benchmark": device.type == "cuda"},
        "results": rows,
        "kernel": kernel_rows,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
