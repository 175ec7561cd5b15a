"""ConvS5 vs ConvLSTM vs frame Transformer: train step time, generation time, peak memory.

Paper sizes by default (64x64 frames, d_model 256, 8 layers, batch 8, T=300; generate 800 frames
after 100 context frames) on one GPU; ``--quick`` shrinks everything for a CPU check.

    python benchmarks/convs5.py --out benchmarks/results/convs5_h100.json        # one GPU
    python benchmarks/convs5.py --quick --out /tmp/convs5_quick.json             # CPU

Each model is measured in its own try block: an out-of-memory error is recorded, not fatal.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform

import torch

import worldssm
from worldssm.benchmarking import peak_gib, reset_peak, timed
from worldssm.train.frame_prediction import frame_loss
from worldssm.train.generate import generate

FAMILIES = ("convs5", "convlstm", "frame_transformer")


def bench_model(name: str, args, device) -> dict:
    overrides = dict(args.model_overrides)
    if args.checkpoint_layers:
        overrides["checkpoint_layers"] = True
    model = worldssm.create_model(name, **overrides).to(device)
    cfg = model.cfg
    row = {"model": name, "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
    s, c = cfg.image_size, cfg.image_channels
    amp = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    frames = torch.rand(args.batch, args.seq_len, c, s, s, device=device)

    def train_step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(frames)
        loss = frame_loss(pred, frames)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    try:
        model.train()
        reset_peak(device)
        train_step()  # warm-up
        row["train_step_s"] = timed(train_step, device, args.repeats)
        row["train_peak_GiB"] = peak_gib(device)
    except torch.OutOfMemoryError as e:
        row["train_error"] = f"OOM: {str(e).splitlines()[0]}"
    opt.zero_grad(set_to_none=True)
    opt.state.clear()
    model.eval()
    ctx = torch.rand(args.gen_batch, args.context, c, s, s, device=device)

    def gen():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            generate(model, ctx, args.horizon)

    try:
        reset_peak(device)
        row["generate_s"] = timed(gen, device, 1)
        row["generate_peak_GiB"] = peak_gib(device)
    except torch.OutOfMemoryError as e:
        row["generate_error"] = f"OOM: {str(e).splitlines()[0]}"
    return row


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
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    suffix = ""
    args.model_overrides = {}
    if args.quick:
        suffix = "_tiny"
        args.batch, args.seq_len, args.context, args.horizon = 2, 16, 8, 24
        args.gen_batch, args.repeats = 2, 1
    rows = []
    for fam in args.models.split(","):
        name = fam + suffix
        row = bench_model(name, args, device)
        print(json.dumps(row))
        rows.append(row)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    by = {r["model"].removesuffix(suffix): r for r in rows}
    ratios = {}
    s5 = by.get("convs5", {})
    if "train_step_s" in s5 and "train_step_s" in by.get("convlstm", {}):
        ratios["train_convlstm_over_convs5"] = by["convlstm"]["train_step_s"] / s5["train_step_s"]
    if "generate_s" in s5 and "generate_s" in by.get("frame_transformer", {}):
        gen_t = by["frame_transformer"]["generate_s"]
        ratios["generate_transformer_over_convs5"] = gen_t / s5["generate_s"]
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
        | {"checkpoint_layers": args.checkpoint_layers, "amp_bf16": device.type == "cuda"},
        "results": rows,
        "ratios": ratios,
    }
    print(json.dumps(ratios))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
