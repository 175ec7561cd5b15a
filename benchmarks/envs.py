"""Frames per second of the built-in worlds (step + render), and of peer environments if installed.

For every world, resolution (64x64, 128x128) and batch size (1, 64, 1024, 8192 environments; on
CUDA also 16384 and 65536, up to 2**28 pixels per batch) the script times
``world.step(random actions)`` followed by ``world.render()`` and reports rendered frames per
second. A point that fails (e.g. out of GPU memory) is reported with its error instead of a rate.
``--compile`` wraps ``world.render`` in ``torch.compile`` (falling back to eager, and saying so in
the row, if compiling fails). ``--graph`` (CUDA only) captures step + render in one CUDA graph
(:class:`worldssm.envs.graph.GraphedWorldStep`) and times its replays; rows say ``"graph": true``.
On CUDA the random actions are drawn on the device (a pageable host-to-device copy per step would
synchronise the stream). Layouts are generated once before timing (a few hundred distinct
seeds are reused for large batches; generation is per-episode NumPy work that does not run while
stepping).

Usage::

    python benchmarks/envs.py --quick --out benchmarks/results/envs-cpu.json    # CPU
    python benchmarks/envs.py --device cuda --out benchmarks/results/envs-h100.json
    python benchmarks/envs.py --device cuda --compile --sizes 64 --out /tmp/envs-compiled.json
    python benchmarks/envs.py --device cuda --graph --out benchmarks/results/envs-h100-graph.json

Peers (memory-maze, crafter, miniworld) are timed on the CPU, one environment stepping and
rendering, when they import; otherwise they are listed as not installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import torch

WORLDS = ("MazeDMLab", "VoxelMinecraft", "IndoorHabitat")
SIZES = (64, 128)
BATCHES = (1, 64, 1024, 8192)
CUDA_BATCHES = BATCHES + (16384, 65536)
MAX_PIXELS = 1 << 28  # larger CUDA points are skipped (memory)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_world(name: str, size: int, num_envs: int, device: str, min_time: float, max_iters: int,
               compile_render: bool = False, graph: bool = False) -> dict:  # fmt: skip
    """Frames/s of one world configuration: (step + render) iterations for ``min_time`` s."""
    from worldssm.envs import make_world
    from worldssm.envs.graph import GraphedWorldStep

    world = make_world(name, num_envs, device, image_size=size)
    compiled = None
    if compile_render:
        eager = world.render
        world.render = torch.compile(eager, dynamic=False)
    world.reset(torch.arange(num_envs), [i % 256 for i in range(num_envs)])
    dev = torch.device(device)
    gen = torch.Generator(dev).manual_seed(0)

    def actions():
        return torch.randint(0, len(world.actions), (num_envs,), generator=gen, device=dev)

    world.step(actions())
    if compile_render:
        try:
            world.render()  # compiles
            compiled = "yes"
        except Exception as exc:  # noqa: BLE001 - fall back to eager, and say why
            world.render = eager
            compiled = f"failed, eager: {type(exc).__name__}: {exc}"[:200]
    world.render()  # warm-up (lit atlas, allocator)
    if graph:
        runner = GraphedWorldStep(world)  # raises on CPU

        def step_render():
            runner.replay(actions())
    else:

        def step_render():
            world.step(actions())
            world.render()

    _sync(dev)
    iters, start = 0, time.perf_counter()
    while True:
        step_render()
        iters += 1
        _sync(dev)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or iters >= max_iters:
            break
    row = {
        "world": name,
        "resolution": size,
        "num_envs": num_envs,
        "iterations": iters,
        "seconds": round(elapsed, 4),
        "frames_per_s": round(num_envs * iters / elapsed, 1),
    }
    if compiled is not None:
        row["compiled"] = compiled
    if graph:
        row["graph"] = True
    return row


def time_point(name: str, size: int, num_envs: int, device: str, min_time: float, max_iters: int,
               compile_render: bool = False, graph: bool = False) -> dict:  # fmt: skip
    """:func:`time_world`, or an error row (out of memory, a failing op) so one bad point does
    not lose the rest of a long GPU run."""
    try:
        return time_world(name, size, num_envs, device, min_time, max_iters, compile_render, graph)
    except Exception as exc:  # noqa: BLE001 - recorded in the results
        if device != "cpu" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        return {"world": name, "resolution": size, "num_envs": num_envs,
                "status": f"error: {type(exc).__name__}: {str(exc)[:160]}"}  # fmt: skip


def cpu_agreement(name: str, size: int, device: str, num_envs: int = 8) -> dict:
    """How closely ``device`` frames match CPU frames (same seeds, 20 random steps)."""
    from worldssm.envs import make_world

    frames = []
    for dev in ("cpu", device):
        world = make_world(name, num_envs, dev, image_size=size)
        world.reset(torch.arange(num_envs), list(range(num_envs)))
        gen = torch.Generator().manual_seed(0)
        for _ in range(20):
            world.step(torch.randint(0, len(world.actions), (num_envs,), generator=gen).to(dev))
        frames.append(world.render().cpu().int())
    diff = (frames[0] - frames[1]).abs().float()
    mean, equal = float(diff.mean()), float((diff == 0).float().mean())
    return {"world": name, "resolution": size, "mean_abs_diff": round(mean, 4),
            "equal_fraction": round(equal, 4)}  # fmt: skip


def time_peer(name: str, steps: int) -> dict:
    """Steps/s of one peer environment on the CPU (each step renders its frame)."""
    try:
        from worldssm.envs import adapters

        env = adapters.make_adapter(name)
    except Exception as exc:  # noqa: BLE001 - report why the peer is missing
        return {"peer": name, "status": f"unavailable: {type(exc).__name__}: {exc}"[:300]}
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(env.action_space.sample())
    elapsed = time.perf_counter() - start
    env.close()
    return {"peer": name, "num_envs": 1, "frames_per_s": round(steps / elapsed, 1)}


def contact_sheet(path: str, columns: int = 6, seed: int = 0) -> None:
    """Save a PNG with one row per world: frames along expert rollouts, shown at 128x128."""
    import numpy as np
    from PIL import Image, ImageDraw

    from worldssm.envs import WORLD_NAMES, make_world

    rows = []
    gen = torch.Generator().manual_seed(seed)  # the same sheet on every run
    for name in WORLD_NAMES:
        world = make_world(name, columns)
        world.reset(torch.arange(columns), [seed + i for i in range(columns)])
        for t in range(40):  # walk a little so the views are not all start poses
            if t % 2 or name == "VoxelMinecraft":
                world.step(world.expert_action())
            else:
                world.step(torch.randint(0, len(world.actions), (columns,), generator=gen))
        frames = world.render()
        h = frames.shape[1]
        if h != 128:
            frames = frames.repeat_interleave(128 // h, 1).repeat_interleave(128 // h, 2)
        row = Image.fromarray(torch.cat(list(frames), 1).numpy())
        label = Image.new("RGB", (row.width, 16), (20, 20, 20))
        ImageDraw.Draw(label).text((4, 2), f"{name}  ({h}x{h})", fill=(240, 240, 240))
        rows.append(np.concatenate([np.asarray(label), np.asarray(row)], 0))
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu} ({torch.get_num_threads()} threads)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="short timings (CPU): ~1 s per point")
    p.add_argument("--worlds", nargs="+", default=list(WORLDS))
    p.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    p.add_argument("--batches", nargs="+", type=int, default=None,
                   help=f"default {BATCHES} (CPU), {CUDA_BATCHES} (CUDA)")  # fmt: skip
    p.add_argument("--compile", action="store_true", help="torch.compile world.render")
    p.add_argument("--graph", action="store_true",
                   help="CUDA only: replay step + render as one CUDA graph")  # fmt: skip
    p.add_argument("--no-malloc-tuning", action="store_true",
                   help="CPU: leave glibc malloc as is (worldssm.envs.cpu_allocator)")  # fmt: skip
    p.add_argument("--peers", nargs="*", default=["memory-maze", "crafter", "miniworld"])
    p.add_argument("--out", default=None, help="write results JSON here")
    p.add_argument("--contact-sheet", default=None, metavar="PNG", help="only save frames")
    args = p.parse_args(argv)
    if args.contact_sheet:
        contact_sheet(args.contact_sheet)
        return 0
    min_time, max_iters = (1.0, 20) if args.quick else (3.0, 200)
    on_cuda = torch.device(args.device).type == "cuda"
    if args.graph and not on_cuda:
        p.error("--graph captures CUDA graphs: it needs --device cuda")
    batches = args.batches or list(CUDA_BATCHES if on_cuda else BATCHES)
    malloc_tuned = False
    if not on_cuda and not args.no_malloc_tuning:  # as `worldssm collect` runs on the CPU
        from worldssm.envs.cpu_allocator import keep_freed_memory

        malloc_tuned = keep_freed_memory()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = []
    for name in args.worlds:
        for size in args.sizes:
            for b in batches:
                if args.batches is None and b * size * size > MAX_PIXELS:
                    continue
                r = time_point(name, size, b, args.device, min_time, max_iters, args.compile,
                               args.graph)  # fmt: skip
                print(json.dumps(r), flush=True)
                results.append(r)
    agreement = []
    if torch.device(args.device).type != "cpu":
        agreement = [cpu_agreement(n, s, args.device) for n in args.worlds for s in args.sizes]
        for r in agreement:
            print(json.dumps(r), flush=True)
    peers = [time_peer(n, 50 if args.quick else 300) for n in args.peers]
    for r in peers:
        print(json.dumps(r), flush=True)
    report = {
        "benchmark": "envs: frames/s of step + render",
        "device": device_name(args.device),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "malloc_tuning": malloc_tuned,
        "results": results,
        "cpu_agreement": agreement,
        "peers": peers,
    }
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
