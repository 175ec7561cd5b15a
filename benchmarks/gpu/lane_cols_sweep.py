"""Sweep the one-column-a-lane tiles (``scan_config(lane_cols=True)``) of the (B, T, C) layout.

Why: at B=8, C=1536 the (B, T, C) bf16 scan ran at 40-55% of copy bandwidth, in the same time as
fp32 (run 21: 3.29 against 3.41 ms forward at T=65536), so it is bound by instructions, not
bytes. ptxas (benchmarks/gpu/ptx_stats.py) shows why: Triton vectorises the narrow (64, 32, 1)
tile along the columns and spreads its time steps over 8 lanes, and the scan costs 664 shuffles
a tile. With lane_cols each lane owns a run of columns (2 or more: with 1, Triton 3.6 puts the
lanes along T) and scans time in its registers (no shuffles). Run 1 (batch 32) had runs of 1.

For bf16 and fp32, time-varying and time-invariant a, (B, T, C) contiguous, each candidate is
checked against the default path (h, final state, grads of a and b; relative error) and timed
fwd or fwd+bwd (``bench_timing.time_call``: CUDA-graph replays), beside the default choice.

Usage (H100): ``python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 240 --out /tmp/r/lane.json``
CPU smoke test: ``TRITON_INTERPRET=1 python3 -P benchmarks/gpu/lane_cols_sweep.py --smoke``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: tmajor_check

from tmajor_check import make, ours, outputs, rel  # noqa: E402

from worldssm.kernels.bench_timing import time_call  # noqa: E402
from worldssm.kernels.benchmark import _min_bytes, copy_bandwidth, environment  # noqa: E402

# (variant, tile, prefetch, stages, lookback, chunk_tiles). The forward+backward candidates keep
# the forward at FWD_OF_BWD under a single-pass backward; chunked rows run the forward chunked
# too (the variant is forced for both), with the same look-back. "default" rows are today's choice,
# "lane_cols off" the NARROW tiles. Batch 56-57: the single pass pipelined through shared memory
# (stages); batch 63: chunks with the decoupled look-back (lookback >= 1, triton_chain.py)
# against the strict chain (0), at B=8, C=1536 (12,288 columns); batch 64 the same with fewer
# columns (--shapes), where chunks stay the default (NARROW_LANE_FEW); batch 65 checks the
# look-back picks of NARROW_LANE_FEW (and fp32's F32_LANE_BELOW_COLUMNS) near their thresholds
# and at shorter T (--match keeps a few rows); batch 68 chunks of several tiles (chunk_tiles,
# fewer programs), batch 69 the same at shorter T and near the thresholds, batch 71 the
# backward's default at 9,216 and 12,288 columns. Earlier candidates are in committed results.
TILES, CHUNK_TILES = ((32, 64, 1), (16, 64, 1)), (1, 2, 4, 8)
FWD = [("chunked", tile, False, 1, 2, k) for tile in TILES for k in CHUNK_TILES]
# Chunked rows: the backward's own tile and options, the forward's the same. Batch 71: the single
# pass that was the backward's default with a time-invariant a (under that forward's default).
BWD = [*FWD, ("single", (32, 64, 1), False, 3, 0, 1)]
FWD_OF_BWD = ((32, 64, 1), False, 5)  # the forward tile under the single-pass backward rows
# --family multiwarp: lane tiles of 2 or 4 warps. With lane_cols the warps lie along T
# (blocked layout sizePerThread [1, 2], threadsPerWarp [1, 32], warpsPerCTA [W, 1]; ptxas
# sm_90a, Triton 3.8: (64, 64, 4) bf16 forward with 4 stages, 168 registers, no spills, 68
# shuffles a tile for the scan across warps), so a 64-column program runs W warps instead of
# one: at B=8, C=1536 that is 192 x W warps on 132 SMs. Every lane tile swept before had one.
# Run 53 (H200, batch 79): every multi-warp tile lost to the default, 1.11-1.43x slower at B=8
# and 1.74-2.28x at B=1 (results/linear-scan-lane-cols-h200-run53-multiwarp-b{8,1}.json).
MW_TILES = ((32, 64, 2), (64, 64, 2), (32, 64, 4), (64, 64, 4), (128, 64, 4))
FWD_MW = [("single", t, False, st, 0, 1) for t in MW_TILES for st in (1, 3)] + [
    ("chunked", t, False, 1, 2, k) for t in ((64, 64, 4), (128, 64, 4)) for k in (1, 4)
]
BWD_MW = [("single", t, False, 3, 0, 1) for t in ((32, 64, 2), (64, 64, 4))] + [
    ("chunked", t, False, 1, 2, k) for t in ((64, 64, 4),) for k in (1, 4)
]
FAMILIES = {"default": (FWD, BWD), "multiwarp": (FWD_MW, BWD_MW)}


def candidates(family="default"):
    """(mode, label, scan_config kwargs); the default choice and the NARROW tiles first."""
    fwd, bwd = FAMILIES[family]
    off = {"lane_cols": False}  # the NARROW tiles (the default before NARROW_LANE)
    out = [("fwd", "default", {}), ("fwd", "lane_cols off", off)]
    for variant, tile, pf, st, lb, ct in fwd:
        kw = {"variant": variant, "tile": tile, "prefetch": pf, "lane_cols": True, "stages": st,
              "lookback": lb, "chunk_tiles": ct}  # fmt: skip
        label = f"lane {variant} {tile} pf={pf} stages={st} lookback={lb} chunk_tiles={ct}"
        out.append(("fwd", label, kw))
    out += [("fwd+bwd", "default", {}), ("fwd+bwd", "lane_cols off", off)]
    for variant, tile, pf, st, lb, ct in bwd:
        ftile, fpf, fst = FWD_OF_BWD if variant == "single" else (tile, False, 1)
        kw = {"variant": variant, "tile": ftile, "bwd_tile": tile, "prefetch": fpf,
              "bwd_prefetch": pf, "lane_cols": True, "stages": fst,
              "bwd_stages": st, "lookback": lb, "chunk_tiles": ct}  # fmt: skip
        label = f"lane {variant} bwd {tile} pf={pf} stages={st} lookback={lb} chunk_tiles={ct}"
        out.append(("fwd+bwd", label, kw))
    return out


def sweep_case(rep, dtype, length, a_const, bsz, c, dev, reps, t_end, smoke, match="",
               family="default"):  # fmt: skip
    name = "bf16" if dtype == torch.bfloat16 else "fp32"
    label = f"{name} B={bsz} C={c} T={length} a {'ti' if a_const else 'tv'}"
    a_s, b_s, w_s = make(bsz, c, length, dtype, a_const, dev)
    a = a_s if a_const else a_s.transpose(1, 2).contiguous()
    b, w = b_s.transpose(1, 2).contiguous(), w_s.transpose(1, 2).contiguous()
    del a_s, b_s, w_s
    ref = outputs(a, b, w, False)
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-4
    for mode, name_, kw in candidates(family):
        if not re.search(match, name_):
            continue
        if smoke:  # the interpreter runs each tile element by element: tiny tiles
            kw = {k: ((8, 4, 1) if k.endswith("tile") else v) for k, v in kw.items()}
        row = {"case": label, "mode": mode, "impl": name_, **{k: str(v) for k, v in kw.items()}}
        if time.time() > t_end:
            rep["results"].append({**row, "skipped": "budget"})
            continue
        try:
            got = outputs(a, b, w, False, **kw)
            err = max(rel(x, r) for x, r in zip(got, ref, strict=True))
            del got
            ms, how = time_call(ours(a, b, False, mode == "fwd+bwd", w, **kw), dev, reps)
        except Exception as e:  # noqa: BLE001 - a failing tile is a result
            row["error"] = f"{type(e).__name__}: {str(e)[:200]}"
            rep["results"].append(row)
            print(label, mode, name_, "ERROR", row["error"], flush=True)
            continue
        nbytes = _min_bytes(b.numel(), b.element_size(), a_const, mode == "fwd+bwd")
        frac = nbytes / (ms * 1e-3) / 1e9 / rep["copy_bandwidth_GBps"]
        row.update(ms=ms, frac_copy_bw=frac, max_rel_err=err, ok=err < tol, timed=how)
        rep["results"].append(row)
        print(f"{label:30} {mode:8} {name_:40} {ms:8.3f} ms {frac:6.1%} err {err:.1e}",
              flush=True)  # fmt: skip
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="JSON results file")
    p.add_argument("--smoke", action="store_true", help="CPU interpreter, tiny shapes")
    p.add_argument("--reps", type=int, default=12)
    p.add_argument("--lengths", default="65536", help="GPU sequence lengths")
    p.add_argument("--dtypes", default="bf16,fp32")
    p.add_argument("--budget", type=float, default=240.0, help="seconds; later rows skipped")
    p.add_argument("--shapes", default="8x1536", help="GPU (B x C) shapes, comma-separated")
    p.add_argument("--match", default="", help="regex: only candidates whose label matches")
    p.add_argument("--family", default="default", choices=sorted(FAMILIES),
                   help="one-warp lane tiles (default) or multi-warp ones")  # fmt: skip
    args = p.parse_args()
    if args.smoke:
        assert os.environ.get("TRITON_INTERPRET") == "1", "--smoke needs TRITON_INTERPRET=1"
        dev, shapes, lengths = torch.device("cpu"), ((2, 5),), (24,)
    else:
        dev = torch.device("cuda")
        shapes = tuple(tuple(int(v) for v in x.split("x")) for x in args.shapes.split(","))
        lengths = tuple(int(x) for x in args.lengths.split(","))
    t0 = time.time()
    rep = {**environment(dev), "command": " ".join([sys.executable, *sys.argv])}
    rep["copy_bandwidth_GBps"] = copy_bandwidth(dev, 64 << 20 if args.smoke else 2 << 30)
    rep["results"] = []
    print(f"{rep.get('card', dev)}: copy bandwidth {rep['copy_bandwidth_GBps']:.0f} GB/s")
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    for dt in args.dtypes.split(","):
        for (bsz, c), length in ((s, n) for s in shapes for n in lengths):
            for a_const in (False, True):
                sweep_case(rep, dtypes[dt], length, a_const, bsz, c, dev, args.reps,
                           t0 + args.budget, args.smoke, args.match, args.family)  # fmt: skip
                rep["elapsed_s"] = round(time.time() - t0, 1)
                rep["failed"] = [r for r in rep["results"] if r.get("ok") is False]
                if args.out:  # after every case: a time limit keeps what was measured
                    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
                    with open(args.out + ".tmp", "w") as f:
                        json.dump(rep, f, indent=1)
                    os.replace(args.out + ".tmp", args.out)
    print(f"failed: {len(rep['failed'])}; elapsed {rep['elapsed_s']} s")


if __name__ == "__main__":
    main()
