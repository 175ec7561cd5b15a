"""``worldssm train``: train a frame-prediction model from a YAML preset plus overrides.

Example::

    worldssm train --config configs/convs5_moving_digits_tiny.yaml --run.steps 200 --optim.lr 3e-4
"""

NAME = "train"
HELP = "train a video model (YAML preset in configs/, --section.key value overrides)"


def add_arguments(parser) -> None:
    parser.add_argument("--config", help="YAML preset, e.g. configs/convs5_moving_digits_tiny.yaml")
    parser.add_argument("--no-resume", action="store_true", help="ignore run_dir/checkpoint.pt")
    from worldssm.train.config import override_keys

    group = parser.add_argument_group("overrides (values parsed as YAML)")
    for key in override_keys():
        group.add_argument(f"--{key}", dest=key.replace(".", "__"), metavar="V")


def run(args) -> int:
    from worldssm.train.config import load_config, overrides_from_namespace
    from worldssm.train.trainer import train

    cfg = load_config(args.config, overrides_from_namespace(args))
    result = train(cfg, resume=not args.no_resume)
    print(f"step {result['step']}  loss {result['loss']:.4f}  checkpoint {result['checkpoint']}")
    return 0
