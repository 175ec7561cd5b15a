"""``worldssm bench scan``: time the scan kernels against peers (see benchmarks/README.md)."""

NAME = "bench"
HELP = "benchmark the scan kernels (worldssm bench scan [--quick] [--out FILE])"


def add_arguments(parser) -> None:
    from worldssm.kernels import benchmark

    parser.add_argument("target", choices=["scan"], help="what to benchmark")
    benchmark.add_arguments(parser)


def run(args) -> int:
    import sys

    from worldssm.kernels import benchmark

    return benchmark.run_from_args(args, "worldssm " + " ".join(sys.argv[1:]))
