"""S4WM vs RSSM vs Transformer SSM on one card, in one run: training throughput and imagination.

- Training: one world-model update (``model.loss``, backward, AdamW step; bf16 autocast on GPU)
  on batches of ``--batch`` sequences of 64, 256 and 1024 steps: seconds per update, frames/s,
  peak memory.
- Imagination: observe ``--context`` frames, then ``--imagine-steps`` (500) prior steps for a
  batch of ``--imagine-batch`` (64) with a random policy: latent frames/s (``model.imagine``)
  and frames/s with every frame decoded.

Paper sizes (the registry presets ``s4wm``, ``rssm``, ``transformer_wm``: 64x64 frames) on one
GPU; ``--quick`` runs the ``*_tiny`` presets at toy sizes on the CPU.

    python benchmarks/world_models.py --out benchmarks/results/world_models_h100.json
    python benchmarks/world_models.py --quick --out /tmp/wm_quick.json

Each measurement has its own try block: an out-of-memory error is recorded, not fatal.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys

import torch
import yaml

import worldssm
from worldssm.benchmarking import peak_gib, reset_peak, timed

FAMILIES = ("s4wm", "rssm", "transformer_wm")


def _batch(model, b: int, t: int, device) -> dict:
    c, s, n = model.cfg.image_channels, model.cfg.image_size, model.cfg.action_dim
    first = torch.zeros(b, t, dtype=torch.bool, device=device)
    first[:, 0] = True
    first[:, t // 2] = True  # one episode boundary inside every sequence
    return {"obs": torch.rand(b, t, c, s, s, device=device),
            "action": torch.randint(0, n, (b, t), device=device),
            "reward": torch.randn(b, t, device=device),
            "cont": torch.ones(b, t, device=device), "is_first": first}  # fmt: skip


def bench_train(model, args, seq_len: int, device) -> dict:
    amp = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = _batch(model, args.batch, seq_len, device)

    def update():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _, _ = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    row = {"seq_len": seq_len, "batch": args.batch}
    try:
        model.train()
        reset_peak(device)
        update()  # warm-up (kernel autotuning, allocator)
        sec = timed(update, device, args.repeats)
        row.update(update_s=sec, frames_per_s=args.batch * seq_len / sec, peak_GiB=peak_gib(device))
    except torch.OutOfMemoryError as e:
        row["error"] = f"OOM: {str(e).splitlines()[0]}"
    opt.state.clear()
    return row


@torch.no_grad()
def bench_imagine(model, args, device) -> dict:
    amp = device.type == "cuda"
    model.eval()
    b, n = args.imagine_batch, model.cfg.action_dim
    ctx = _batch(model, b, args.context, device)

    def policy(feat):
        return torch.randint(0, n, feat.shape[:1], device=feat.device)

    def start():
        return model.observe(None, ctx["obs"], ctx["action"], ctx["is_first"], decode=False)[0]

    def latent():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            model.imagine(start(), policy, args.imagine_steps)

    def decoded():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            state = start()
            for _ in range(args.imagine_steps):
                state, out = model.step(state, policy(state.h))
                model.decode(out["feat"])

    row = {"batch": b, "steps": args.imagine_steps, "context": args.context}
    for key, fn in (("latent", latent), ("decoded", decoded)):
        try:
            reset_peak(device)
            fn()  # warm-up
            sec = timed(fn, device, 1)
            row[f"{key}_s"] = sec
            row[f"{key}_frames_per_s"] = b * args.imagine_steps / sec
            row[f"{key}_peak_GiB"] = peak_gib(device)
        except torch.OutOfMemoryError as e:
            row[f"{key}_error"] = f"OOM: {str(e).splitlines()[0]}"
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny presets and sizes for a CPU check")
    p.add_argument("--models", default=",".join(FAMILIES))
    p.add_argument("--seq-lens", default="64,256,1024")
    p.add_argument("--batch", type=int, default=4, help="sequences per training update")
    p.add_argument("--imagine-steps", type=int, default=500)
    p.add_argument("--imagine-batch", type=int, default=64)
    p.add_argument("--context", type=int, default=16, help="frames observed before imagining")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model override for every family, e.g. --set d_model=256")  # fmt: skip
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    suffix = ""
    if args.quick:
        suffix = "_tiny"
        args.seq_lens, args.batch, args.repeats = "8,16", 2, 1
        args.imagine_steps, args.imagine_batch, args.context = 10, 4, 4
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    seq_lens = [int(x) for x in args.seq_lens.split(",")]
    rows = []
    for fam in args.models.split(","):
        name = fam + suffix
        torch.manual_seed(0)
        model = worldssm.create_model(name, action_dim=4, **overrides).to(device)
        row = {"model": name, "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
               "train": [bench_train(model, args, t, device) for t in seq_lens],
               "imagine": bench_imagine(model, args, device)}  # fmt: skip
        print(json.dumps(row))
        rows.append(row)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    ratios = {}
    by = {r["model"].removesuffix(suffix): r for r in rows}
    for fam in ("rssm", "transformer_wm"):
        if fam in by and "s4wm" in by:
            for mine, theirs in zip(by["s4wm"]["train"], by[fam]["train"], strict=True):
                if "update_s" in mine and "update_s" in theirs:
                    ratios[f"train_T{mine['seq_len']}_{fam}_over_s4wm"] = (
                        theirs["update_s"] / mine["update_s"]
                    )
            a, b = by["s4wm"]["imagine"], by[fam]["imagine"]
            if "latent_s" in a and "latent_s" in b:
                ratios[f"imagine_{fam}_over_s4wm"] = b["latent_s"] / a["latent_s"]
    result = {
        "benchmark": "world_models",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda"
        else platform.processor() or "cpu",
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
        "torch": torch.__version__,
        "settings": {"quick": args.quick, "seq_lens": seq_lens, "batch": args.batch,
                     "imagine_steps": args.imagine_steps, "imagine_batch": args.imagine_batch,
                     "context": args.context, "repeats": args.repeats, "overrides": overrides,
                     "amp_bf16": device.type == "cuda"},
        "results": rows,
        "ratios": ratios,
    }  # fmt: skip
    print(json.dumps(ratios))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
