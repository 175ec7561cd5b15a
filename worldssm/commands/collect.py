"""``worldssm collect``: roll out a policy in a built-in world and write a TECO-format dataset."""

NAME = "collect"
HELP = "collect episodes from a built-in 3D world into TECO-format npz/mp4 files (resumable)"


def add_arguments(parser) -> None:
    parser.add_argument("--env", default="MazeDMLab", help="a world name, e.g. VoxelMinecraft")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--length", type=int, default=300, help="frames per episode")
    parser.add_argument(
        "--policy", default="expert", help="expert | random | module:factory(world) -> policy"
    )
    parser.add_argument("--out", required=True, help="output folder (rerun to resume)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--num-envs", type=int, default=16, help="episodes rolled out in parallel")
    parser.add_argument("--shard-size", type=int, default=100, help="episodes per folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--format", default="auto", choices=["auto", "npz", "mp4"], help="auto: TECO's per world"
    )
    parser.add_argument("--epsilon", type=float, default=0.0, help="expert: random-action rate")
    parser.add_argument("--action-repeat", type=int, default=1, help="env steps per frame")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="world option, e.g. --set maze_size=9 (repeatable)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true")


def _parse_options(items: list[str]) -> dict:
    import ast

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def run(args) -> int:
    import torch

    from worldssm.train.collect import CollectConfig, collect

    cfg = CollectConfig(
        env=args.env,
        out=args.out,
        episodes=args.episodes,
        length=args.length,
        policy=args.policy,
        split=args.split,
        num_envs=args.num_envs,
        shard_size=args.shard_size,
        seed=args.seed,
        device=args.device,
        video_format=args.format,
        epsilon=args.epsilon,
        action_repeat=args.action_repeat,
        env_options=_parse_options(args.set),
    )
    if torch.device(cfg.device).type == "cpu":
        from worldssm.envs.cpu_allocator import keep_freed_memory

        keep_freed_memory()  # CPU renders reuse freed memory instead of page-faulting it in
    summary = collect(cfg, progress=not args.no_progress)
    print(f"wrote {summary['written']} episodes, kept {summary['skipped']} -> {summary['out']}")
    return 0
