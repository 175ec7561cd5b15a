"""Where the GPU time goes: torch.profiler kernel tables and per-step timings of one workload.

A diagnostic, not a benchmark: it prints tables (and writes them to ``--out`` as JSON) so that a
slow path can be explained before it is optimised.

    python benchmarks/profile_ops.py transformer-generation --out /tmp/prof-tr.json
    python benchmarks/profile_ops.py vfi --res 1080p --out /tmp/prof-vfi.json
    python benchmarks/profile_ops.py envs --world MazeDMLab --envs 8192 --out /tmp/prof-env.json

Workloads:
- ``transformer-generation``: the paper-size frame Transformer (batch 8, 100 context frames):
  per-step times of the KV-cache step and of the no-cache step at growing history lengths,
  each under every scaled-dot-product-attention backend set in ``SDPA_SETS`` (a new sequence
  length may make a backend build a new plan: a per-step cost that a repeated length hides);
- ``vfi``: one VFIMamba forward (2x, t=0.5) at a resolution, time per top-level module
  (``--fast``: prepared for inference as the interpolate CLI runs it);
- ``envs``: step + render of one built-in world.
Each ends with the profiler's top kernels by GPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

import worldssm

SDPA_SETS = {
    "default": None,
    "no-cudnn": [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
    "cudnn-only": [SDPBackend.CUDNN_ATTENTION],
}


def _cuda_ms(fn) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def _top_kernels(fn, rows: int = 25) -> list[dict]:
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=rows)
    print(table)
    out = []
    for e in sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:rows]:
        out.append(
            {
                "name": e.key[:120],
                "calls": e.count,
                "gpu_ms": e.device_time_total / 1e3,
                "cpu_ms": e.cpu_time_total / 1e3,
            }
        )
    return out


def _summary(times: list[float]) -> dict:
    return {
        "first_ms": times[0],
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "mean_ms": sum(times) / len(times),
    }


class _Stepper:
    """The KV-cache generation loop of :func:`worldssm.train.generate.generate`, one step a call."""

    def __init__(self, model, ctx):
        self.model = model
        pred, self.state = model(ctx, return_state=True)
        self.frame = pred[:, -1]

    def __call__(self):
        self.frame, self.state = self.model.step(self.state, self.frame)


def _sdpa_rows(model, ctx, args) -> dict:
    """Per-step times of KV-cache and no-cache generation under the active SDPA backends."""
    from worldssm.models.frame_transformer import predict_without_cache

    stepper = _Stepper(model, ctx)
    kv = [_cuda_ms(stepper) for _ in range(args.steps)]
    row = {"kv_cache_step": _summary(kv) | {"per_step_ms": kv[:: max(1, args.steps // 20)]}}
    feat_shape = model._encode(stepper.frame, None).shape[1:]
    feats = torch.randn(
        args.batch, args.context + args.steps, *feat_shape, device="cuda", dtype=torch.bfloat16
    )
    nc = [
        _cuda_ms(lambda n=n: predict_without_cache(model, feats[:, :n]))
        for n in range(args.context, args.context + args.steps)
    ]
    row["nocache_step_new_lengths"] = _summary(nc)
    mid = args.context + args.steps // 2
    same = [_cuda_ms(lambda: predict_without_cache(model, feats[:, :mid])) for _ in range(10)]
    row["nocache_step_repeated_length"] = _summary(same)
    return row


@torch.no_grad()
def transformer_generation(args) -> dict:
    model = worldssm.create_model("frame_transformer").cuda().eval()
    cfg = model.cfg
    shape = (args.batch, args.context, cfg.image_channels, cfg.image_size, cfg.image_size)
    ctx = torch.rand(shape, device="cuda")
    result = {"sdpa": {}}
    for name, backends in SDPA_SETS.items():
        guard = sdpa_kernel(backends) if backends else contextlib.nullcontext()
        try:
            with guard, torch.autocast("cuda", dtype=torch.bfloat16):
                row = _sdpa_rows(model, ctx, args)
        except RuntimeError as e:
            row = {"error": str(e).splitlines()[0]}
        print(name, json.dumps(row))
        result["sdpa"][name] = row
    with torch.autocast("cuda", dtype=torch.bfloat16):
        stepper = _Stepper(model, ctx)

        def steps():
            for _ in range(20):
                stepper()

        result["top_kernels_kv_20_steps"] = _top_kernels(steps)
    return result


def vfi(args) -> dict:
    h, w = {"720p": (720, 1280), "1080p": (1088, 1920), "4k": (2160, 3840)}[args.res]
    model = worldssm.create_model(args.model).cuda().eval()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.precision]
    if args.fast:  # weights cast once, NHWC, run without autocast (the interpolate CLI's path)
        model.prepare_for_inference(dtype)
    x0 = torch.rand(1, 3, h, w, device="cuda")
    x1 = torch.rand(1, 3, h, w, device="cuda")
    times: dict[str, list[float]] = {}
    stack = []

    def pre(mod, _inp):
        ev = torch.cuda.Event(enable_timing=True)
        ev.record()
        stack.append(ev)

    def post_for(name):
        def post(mod, _inp, _out):
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            times.setdefault(name, []).append((stack.pop(), ev))

        return post

    hooks = []
    watched = {"encoder": model.encoder, "unet": model.unet}
    for i, stage in enumerate(model.encoder.stages):
        for j, sub in enumerate(stage):
            watched[f"encoder.{i}.{j}.{type(sub).__name__}"] = sub
    for i, head in enumerate(model.heads):
        watched[f"heads.{i}"] = head
    for name, mod in watched.items():
        hooks.append(mod.register_forward_pre_hook(pre))
        hooks.append(mod.register_forward_hook(post_for(name)))

    def run():
        amp = dtype != torch.float32 and not args.fast
        with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=amp):
            model(x0, x1, 0.5)

    for _ in range(3):
        run()
    times.clear()
    total = [_cuda_ms(run) for _ in range(args.steps)]
    torch.cuda.synchronize()
    per_module = {k: statistics.median(a.elapsed_time(b) for a, b in v) for k, v in times.items()}
    for h_ in hooks:
        h_.remove()
    result = {"forward": _summary(total), "module_ms": per_module}
    print(json.dumps(result, indent=1))
    result["top_kernels"] = _top_kernels(run, rows=40)
    return result


def envs(args) -> dict:
    from worldssm.envs import make_world

    world = make_world(args.world, args.envs, "cuda", image_size=args.size)
    world.reset(torch.arange(args.envs), [i % 256 for i in range(args.envs)])
    g = torch.Generator(device="cuda").manual_seed(0)

    def run():
        a = torch.randint(0, len(world.actions), (args.envs,), device="cuda", generator=g)
        world.step(a)
        world.render()

    for _ in range(3):
        run()
    times = [_cuda_ms(run) for _ in range(args.steps)]
    result = {
        "step_render": _summary(times),
        "frames_per_s": args.envs / statistics.median(times) * 1e3,
    }
    print(json.dumps(result))
    result["top_kernels"] = _top_kernels(run, rows=40)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["transformer-generation", "vfi", "envs"])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--context", type=int, default=100)
    p.add_argument("--res", default="1080p")
    p.add_argument("--model", default="vfimamba_s")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--fast", action="store_true", help="vfi: model.prepare_for_inference first")
    p.add_argument("--world", default="MazeDMLab")
    p.add_argument("--envs", type=int, default=8192)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    fn = {"transformer-generation": transformer_generation, "vfi": vfi, "envs": envs}
    t0 = time.perf_counter()
    result = {
        "workload": args.workload,
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "args": vars(args),
    } | fn[args.workload](args)
    result["seconds"] = time.perf_counter() - t0
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
