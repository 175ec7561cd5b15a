"""``worldssm agent``: train a world model and an actor-critic in its imagination on a built-in env.

Example::

    worldssm agent --env MultiDoorsKeys --model s4wm --config configs/agent_multidoorskeys.yaml
    worldssm agent --env DistractingMemory --model rssm --run.max_minutes 10 --env.num_envs 16

The run directory (``--run.run_dir``) holds the checkpoint (a rerun resumes), ``episodes.csv``,
TensorBoard logs and ``summary.json``; ``--evaluate N`` then plays N episodes with the trained
agent and with a random policy and prints both mean returns.
"""

NAME = "agent"
HELP = "train an agent in imagination of a world model (s4wm | rssm | transformer_wm) on an env"

# Model options settable as --model.<key> (a test checks each is a world-model config field).
MODEL_KEYS = (
    "latent stoch classes unimix min_std d_model hidden head_layers enc_channels enc_blocks "
    "free_nats kl_balance recon_scale reward_scale cont_scale kl_scale num_layers state_size "
    "ssm_blocks dt_min dt_max discretization clip_eigs mlp_ratio heads window"
).split()

SECTION_FIELDS = {
    "env": "num_envs max_episode_steps options",
    "replay": "capacity chunk_size on_disk batch_size seq_len",
    "wm": "lr weight_decay grad_clip",
    "ac": "horizon discount lam entropy hidden layers actor_lr critic_lr grad_clip slow_fraction "
    "slow_reg return_decay start_chunks",
    "run": "env_steps prefill collect_steps updates max_minutes run_dir seed log_every "
    "checkpoint_every amp device",
}


def override_keys() -> list[str]:
    """Every ``--section.key`` the command accepts."""
    keys = [f"model.{k}" for k in MODEL_KEYS]
    for section, names in SECTION_FIELDS.items():
        keys += [f"{section}.{n}" for n in names.split()]
    return keys


def add_arguments(parser) -> None:
    parser.add_argument("--env", help="world name, e.g. MultiDoorsKeys (sets env.name)")
    parser.add_argument("--model", help="s4wm | rssm | transformer_wm (or a *_tiny preset)")
    parser.add_argument("--config", help="YAML preset, e.g. configs/agent_multidoorskeys.yaml")
    parser.add_argument("--no-resume", action="store_true", help="fail if run_dir has a run")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--evaluate", type=int, default=0, metavar="N", help="then N episodes: agent vs random"
    )
    group = parser.add_argument_group("overrides (values parsed as YAML)")
    for key in override_keys():
        group.add_argument(f"--{key}", dest=key.replace(".", "__"), metavar="V")


def _overrides(args) -> dict:
    from worldssm.train.config import overrides_from_namespace

    out = overrides_from_namespace(args, override_keys())
    if args.env:
        out.setdefault("env", {})["name"] = args.env
    if args.model:
        out.setdefault("model", {})["name"] = args.model
    return out


def run(args) -> int:
    import json

    from worldssm.train.world_model_training import evaluate_agent, load_agent_config, train_agent

    cfg = load_agent_config(args.config, _overrides(args))
    summary = train_agent(cfg, resume=not args.no_resume, progress=not args.no_progress)
    print(json.dumps({k: v for k, v in summary.items() if k != "last_metrics"}))
    if args.evaluate:
        result = evaluate_agent(summary["checkpoint"], episodes=args.evaluate)
        print(json.dumps(result))
    return 0
