"""ConvS5 vs ConvLSTM vs frame Transformer: train step time, generation time, peak memory.

Paper sizes by default (64x64 frames, d_model 256, 8 layers, batch 8, T=300; generate 800 frames
after 100 context frames) on one GPU; ``--quick`` shrinks everything for a CPU check.

    python benchmarks/convs5.py --checkpoint-layers --out benchmarks/results/convs5-h100.json
    python benchmarks/convs5.py --quick --out /tmp/convs5_quick.json             # CPU

What is measured (all under bf16 autocast on CUDA):
- training: one optimizer step on a (batch, seq_len) clip (``--checkpoint-layers`` recomputes
  ConvS5 layers, ConvLSTM time chunks, Transformer nothing);
- generation (:func:`worldssm.train.generate.generate`): the context pass plus ``horizon - 1``
  recurrent steps. ConvS5 and ConvLSTM are timed twice: eager (the reference path) and with the
  recurrent step replayed as one CUDA graph (the default on CUDA; the capture is inside the
  timing), then once more as a trial with channels_last conv weights
  (``generate_graph_channels_last_s``). The Transformer uses its KV cache (the strong peer);
- the no-KV-cache Transformer (the ConvS5 paper's 400x baseline: attention recomputed over all
  previous frames each step): per-step time sampled at ``--nocache-samples`` history lengths
  across the horizon and summed over every step by linear interpolation
  (``generate_nocache_estimated_s``); when that estimate is under ``--nocache-full-limit`` s the
  full horizon is also run and timed (``generate_nocache_s``).
Each measurement sits in its own try block: an out-of-memory (or graph-capture) error is
recorded in the JSON, not fatal.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform

import numpy as np
import torch

import worldssm
from worldssm.benchmarking import peak_gib, reset_peak, timed
from worldssm.models.cuda_graph import GraphedGenerationStep
from worldssm.models.frame_transformer import generate_without_cache, predict_without_cache
from worldssm.train.frame_prediction import frame_loss
from worldssm.train.generate import generate

FAMILIES = ("convs5", "convlstm", "frame_transformer")


def _error(e: Exception) -> str:
    kind = "OOM" if isinstance(e, torch.OutOfMemoryError) else type(e).__name__
    return f"{kind}: {str(e).splitlines()[0] if str(e) else ''}"


def _autocast(device, amp: bool):
    """A fresh bf16 autocast context (on CUDA; a no-op when ``amp`` is False)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)


def bench_train(model, args, device, amp) -> dict:
    """Seconds per optimizer step and peak GiB on a (batch, seq_len) clip, or the error."""
    cfg = model.cfg
    s, c = cfg.image_size, cfg.image_channels
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    row = {}
    try:
        frames = torch.rand(args.batch, args.seq_len, c, s, s, device=device)

        def train_step():
            with _autocast(device, amp):
                pred = model(frames)
            loss = frame_loss(pred, frames)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        model.train()
        reset_peak(device)
        train_step()  # warm-up
        row["train_step_s"] = timed(train_step, device, args.repeats)
        row["train_peak_GiB"] = peak_gib(device)
    except (torch.OutOfMemoryError, RuntimeError) as e:
        row["train_error"] = _error(e)
    opt.zero_grad(set_to_none=True)
    opt.state.clear()
    return row


def bench_generate(model, args, device, amp) -> tuple[dict, dict]:
    """Generation timings per mode ("eager", and "graph" where it applies); also the outputs."""
    cfg = model.cfg
    s, c = cfg.image_size, cfg.image_channels
    model.eval()
    ctx = torch.rand(args.gen_batch, args.context, c, s, s, device=device)
    row, outs = {}, {}
    modes = ["eager"]
    if device.type == "cuda" and model.graphable_step and not args.no_graph:
        modes.append("graph")
    try:

        @torch.no_grad()
        def context_pass():
            with _autocast(device, amp):
                model(ctx, return_state=True)

        context_pass()
        row["context_s"] = timed(context_pass, device, 1)
    except (torch.OutOfMemoryError, RuntimeError) as e:
        row["context_error"] = _error(e)
    for mode in modes:
        graph = mode == "graph"
        try:
            with _autocast(device, amp):
                generate(model, ctx, 4, cuda_graph=graph)  # warm-up (cuDNN, allocator)
            reset_peak(device)

            def gen(graph=graph, mode=mode):
                with _autocast(device, amp):
                    outs[mode] = generate(model, ctx, args.horizon, cuda_graph=graph)

            t = timed(gen, device, 1)
            row[f"generate_{mode}_s"] = t
            row[f"generate_{mode}_ms_per_frame"] = 1000 * t / args.horizon
            if "context_s" in row:
                step = (t - row["context_s"]) / max(args.horizon - 1, 1)
                row[f"step_{mode}_ms"] = 1000 * step
            row[f"generate_{mode}_peak_GiB"] = peak_gib(device)
        except (torch.OutOfMemoryError, RuntimeError) as e:
            row[f"generate_{mode}_error"] = _error(e)
    if "graph" in modes and "generate_graph_s" in row:
        try:  # the capture alone (warm-up steps + capture), already inside generate_graph_s

            @torch.no_grad()
            def capture():
                with _autocast(device, amp):
                    pred, state = model(ctx, return_state=True)
                    GraphedGenerationStep(model, state, pred[:, -1])

            row["graph_capture_s"] = timed(capture, device, 1) - row.get("context_s", 0.0)
        except (torch.OutOfMemoryError, RuntimeError) as e:
            row["graph_capture_error"] = _error(e)
    if "graph" in modes and "generate_graph_s" in row and not args.skip_channels_last:
        # Trial: channels_last conv weights make cuDNN run NHWC (no layout transposes around each
        # bf16 conv, a copy-free channel LayerNorm). Last for this model: it stays converted.
        try:
            model.to(memory_format=torch.channels_last)
            with _autocast(device, amp):
                generate(model, ctx, 4, cuda_graph=True)

            def gen_cl():
                with _autocast(device, amp):
                    outs["graph_channels_last"] = generate(
                        model, ctx, args.horizon, cuda_graph=True
                    )

            t = timed(gen_cl, device, 1)
            row["generate_graph_channels_last_s"] = t
            row["generate_graph_channels_last_ms_per_frame"] = 1000 * t / args.horizon
            diff = (outs["graph_channels_last"].float() - outs["graph"].float()).abs()
            row["channels_last_vs_graph_max_abs_diff_first10"] = diff[:, :10].max().item()
        except (torch.OutOfMemoryError, RuntimeError) as e:
            row["generate_graph_channels_last_error"] = _error(e)
    if "eager" in outs and "graph" in outs:
        diff = (outs["graph"].float() - outs["eager"].float()).abs()
        row["graph_vs_eager_max_abs_diff_first10"] = diff[:, :10].max().item()
        row["graph_vs_eager_max_abs_diff_all"] = diff.max().item()
    default = "graph" if "generate_graph_s" in row else "eager"  # what generate() does by default
    if f"generate_{default}_s" in row:
        row["generate_s"] = row[f"generate_{default}_s"]
        row["generate_ms_per_frame"] = row[f"generate_{default}_ms_per_frame"]
        row["generate_mode"] = default
    return row, outs


def bench_nocache(model, args, device, amp) -> dict:
    """No-KV-cache Transformer: sampled per-step times -> whole-horizon estimate (+ full run)."""
    cfg = model.cfg
    k, h = args.context, args.horizon
    row: dict = {}
    try:
        with torch.no_grad(), _autocast(device, amp):
            ctx = torch.rand(args.gen_batch, k, cfg.image_channels, cfg.image_size, cfg.image_size)
            ctx = ctx.to(device)
            enc = model._encode(ctx[:, 0], None)
            # the step cost depends on the history length only, not on the feature values
            shape = (args.gen_batch, k + h - 1, *enc.shape[1:])
            feats = torch.randn(shape, device=device, dtype=enc.dtype)

            def encode_context():
                model._encode(ctx.flatten(0, 1), None)

            encode_context()
            context_s = timed(encode_context, device, 1)
            lengths = np.unique(np.linspace(k, k + h - 1, args.nocache_samples).round().astype(int))
            per_step = []
            for n in lengths:

                def one_step(n=int(n)):
                    pred = predict_without_cache(model, feats[:, :n])
                    model._encode(pred, None)  # the real loop encodes the new frame

                one_step()
                per_step.append(timed(one_step, device, args.nocache_steps))
        # every step of the horizon, its cost interpolated between the sampled history lengths
        all_lengths = np.arange(k, k + h)
        estimate = context_s + float(np.interp(all_lengths, lengths, per_step).sum())
        row["nocache_samples"] = [
            {"history": int(n), "step_ms": 1000 * t} for n, t in zip(lengths, per_step, strict=True)
        ]
        row["generate_nocache_estimated_s"] = estimate
        row["generate_nocache_estimated_ms_per_frame"] = 1000 * estimate / h
        if estimate < args.nocache_full_limit:

            def full():
                with torch.no_grad(), _autocast(device, amp):
                    generate_without_cache(model, ctx, h)

            t = timed(full, device, 1)
            row["generate_nocache_s"] = t
            row["generate_nocache_ms_per_frame"] = 1000 * t / h
        else:
            row["generate_nocache_s"] = None
            row["generate_nocache_note"] = (
                f"full run skipped: estimate {estimate:.0f} s >= --nocache-full-limit"
            )
    except (torch.OutOfMemoryError, RuntimeError) as e:
        row["nocache_error"] = _error(e)
    return row


def bench_model(name: str, args, device) -> dict:
    overrides = dict(args.model_overrides)
    if args.checkpoint_layers:
        overrides["checkpoint_layers"] = True
    model = worldssm.create_model(name, **overrides).to(device)
    amp = device.type == "cuda"
    row = {"model": name, "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
    if not args.skip_train:
        row |= bench_train(model, args, device, amp)
    gen_row, _ = bench_generate(model, args, device, amp)
    row |= gen_row
    if not model.graphable_step and not args.skip_nocache:
        row |= bench_nocache(model, args, device, amp)
    del model
    return row


def ratios_of(by: dict) -> dict:
    """Speed ratios (>1: ConvS5 faster), each named after exactly what it compares."""
    s5, lstm, tr = (by.get(f, {}) for f in FAMILIES)
    out = {}

    def ratio(name, num, den):
        if num is not None and den:
            out[name] = num / den

    ratio("train_convlstm_over_convs5", lstm.get("train_step_s"), s5.get("train_step_s"))
    ratio(
        "generate_convs5_eager_over_graph", s5.get("generate_eager_s"), s5.get("generate_graph_s")
    )
    for mode in ("eager", "graph"):
        den = s5.get(f"generate_{mode}_s")
        ratio(f"generate_convlstm_{mode}_over_convs5_{mode}", lstm.get(f"generate_{mode}_s"), den)
        ratio(f"generate_transformer_kvcache_over_convs5_{mode}", tr.get("generate_eager_s"), den)
        ratio(f"generate_transformer_nocache_over_convs5_{mode}", tr.get("generate_nocache_s"), den)
        ratio(
            f"generate_transformer_nocache_estimated_over_convs5_{mode}",
            tr.get("generate_nocache_estimated_s"),
            den,
        )
    return out


def summary(rows: list[dict], ratios: dict) -> str:
    """A few lines to read by eye: train s/step, ms per generated frame per mode, ratios."""
    lines = []
    for r in rows:
        parts = [f"{r['model']:<24}"]
        if "train_step_s" in r:
            parts.append(
                f"train {r['train_step_s']:.3f} s/step ({r['train_peak_GiB'] or 0:.1f} GiB)"
            )
        elif "train_error" in r:
            parts.append(f"train {r['train_error'][:40]}")
        for mode in ("eager", "graph", "graph_channels_last", "nocache_estimated", "nocache"):
            v = r.get(f"generate_{mode}_ms_per_frame")
            if v is not None:
                parts.append(f"gen {mode} {v:.2f} ms/frame")
        lines.append(" | ".join(parts))
    lines += [f"{k}: {v:.2f}" for k, v in ratios.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CPU check")
    p.add_argument("--models", default=",".join(FAMILIES))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=300)
    p.add_argument("--context", type=int, default=100)
    p.add_argument("--horizon", type=int, default=800)
    p.add_argument("--gen-batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--checkpoint-layers", action="store_true", help="recompute layers (memory)")
    p.add_argument("--no-graph", action="store_true", help="time eager generation only")
    p.add_argument("--skip-train", action="store_true", help="generation only")
    p.add_argument("--skip-channels-last", action="store_true", help="no channels_last trial")
    p.add_argument("--skip-nocache", action="store_true", help="no no-KV-cache Transformer")
    p.add_argument("--nocache-samples", type=int, default=9, help="history lengths sampled")
    p.add_argument("--nocache-steps", type=int, default=3, help="steps timed per sample")
    p.add_argument("--nocache-full-limit", type=float, default=90.0, help="seconds")
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    suffix = ""
    args.model_overrides = {}
    if args.quick:
        suffix = "_tiny"
        args.batch, args.seq_len, args.context, args.horizon = 2, 16, 8, 24
        args.gen_batch, args.repeats = 2, 1
        args.nocache_samples, args.nocache_steps = 3, 1
    rows = []
    for fam in args.models.split(","):
        row = bench_model(fam + suffix, args, device)
        print(json.dumps(row), flush=True)
        rows.append(row)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    ratios = ratios_of({r["model"].removesuffix(suffix): r for r in rows})
    result = {
        "benchmark": "convs5_video",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "settings": {
            k: getattr(args, k)
            for k in ("quick", "batch", "seq_len", "context", "horizon", "gen_batch", "repeats")
        }
        | {
            "checkpoint_layers": args.checkpoint_layers,
            "amp_bf16": device.type == "cuda",
            "cuda_graph": device.type == "cuda" and not args.no_graph,
            "nocache_samples": args.nocache_samples,
            "nocache_steps": args.nocache_steps,
        },
        "results": rows,
        "ratios": ratios,
    }
    print(json.dumps(ratios))
    print(summary(rows, ratios))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
