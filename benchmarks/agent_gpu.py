"""An agent trained in imagination on a memory task vs a random policy, over several seeds.

Every seed trains ``worldssm agent`` (a world model plus a DreamerV3-style actor-critic in its
imagination) in its own process, all at once on the same card, for ``--minutes``; then each
trained agent and a uniformly random policy play ``--episodes`` episodes (the same episode seeds)
and the mean returns are reported per seed and over seeds (the agent sampling its actions, and
greedy).

    python benchmarks/agent_gpu.py --out benchmarks/results/agent_mdk_h100.json       # ~6 min
    python benchmarks/agent_gpu.py --model rssm --out benchmarks/results/agent_mdk_rssm.json
    python benchmarks/agent_gpu.py --quick --out /tmp/agent_quick.json                # CPU smoke
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the debug preset, a few steps, CPU")
    p.add_argument("--config", default=str(ROOT / "configs" / "agent_multidoorskeys.yaml"))
    p.add_argument("--model", default="s4wm", help="s4wm | rssm | transformer_wm")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--minutes", type=float, default=5.0, help="training budget per seed")
    p.add_argument("--episodes", type=int, default=32, help="evaluation episodes per policy")
    p.add_argument("--run-root", default="runs/agent_gpu", help="runs go to <root>/<date-time>")
    p.add_argument("--out", default=None, help="write JSON here")
    args = p.parse_args(argv)
    from worldssm.train.world_model_training import evaluate_agent

    extra: list[str] = []
    if args.quick:
        args.config = str(ROOT / "configs" / "agent_debug.yaml")
        args.model, args.episodes = "s4wm_tiny", 2
        extra = "--run.env_steps 48 --run.prefill 32 --env.num_envs 2 --replay.seq_len 8"
        extra = (extra + " --replay.batch_size 2 --ac.horizon 3").split()
    seeds = [int(s) for s in args.seeds.split(",")]
    root = Path(args.run_root) / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    procs, t0 = {}, time.time()
    # The seeds share the CPU cores: each gets its share of threads (unless set already).
    threads = max(1, (os.cpu_count() or 1) // len(seeds))
    env = {"OMP_NUM_THREADS": str(threads), **os.environ}
    for seed in seeds:
        run_dir = root / f"{args.model}_seed{seed}"
        cmd = [sys.executable, "-m", "worldssm", "agent", "--config", args.config,
               "--model", args.model, "--run.seed", str(seed), "--run.run_dir", str(run_dir),
               "--run.max_minutes", str(args.minutes), "--no-progress", "--no-resume"]  # fmt: skip
        log = open(root / f"{args.model}_seed{seed}.log", "w")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen([*cmd, *extra], stdout=log, stderr=subprocess.STDOUT, env=env)
        procs[seed] = (proc, run_dir, log)
    failed = []
    for seed, (proc, _, log) in procs.items():
        if proc.wait() != 0:
            failed.append(seed)
        log.close()
    if failed:
        logs = ", ".join(str(root / f"{args.model}_seed{s}.log") for s in failed)
        raise SystemExit(f"training failed for seeds {failed}; see {logs}")
    train_s = time.time() - t0
    rows = []
    for seed, (_, run_dir, _) in procs.items():
        summary = json.loads((run_dir / "summary.json").read_text())
        ckpt, eval_seed = run_dir / "checkpoint.pt", 10_000 + seed
        res = evaluate_agent(ckpt, episodes=args.episodes, seed=eval_seed)
        greedy = evaluate_agent(ckpt, episodes=args.episodes, seed=eval_seed, greedy=True)
        row = {"seed": seed, "env_steps": summary["env_steps"], "updates": summary["updates"],
               "agent_return": res["agent"]["mean"], "random_return": res["random"]["mean"],
               "agent_std": res["agent"]["std"], "random_std": res["random"]["std"],
               "agent_greedy_return": greedy["agent"]["mean"],
               "train_return_last20": summary["mean_return_last"]}  # fmt: skip
        print(json.dumps(row))
        rows.append(row)
    agent = np.array([r["agent_return"] for r in rows])
    rand = np.array([r["random_return"] for r in rows])
    greedy = np.array([r["agent_greedy_return"] for r in rows])
    overall = {"agent_mean": float(agent.mean()), "agent_std_over_seeds": float(agent.std()),
               "agent_greedy_mean": float(greedy.mean()),
               "random_mean": float(rand.mean()), "random_std_over_seeds": float(rand.std()),
               "seeds_beating_random": int((agent > rand).sum()), "seeds": len(rows)}  # fmt: skip
    print(json.dumps(overall))
    result = {
        "benchmark": "agent_in_imagination",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available()
        else platform.processor() or "cpu",
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
        "config": args.config, "model": args.model, "minutes": args.minutes,
        "episodes": args.episodes, "train_wall_s": train_s, "per_seed": rows, "overall": overall,
    }  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
