"""``worldssm info``: versions, device and which scan path is active."""

NAME = "info"
HELP = "print versions, the device and the active scan paths"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args) -> int:
    import json
    import platform

    import torch

    from worldssm import __version__
    from worldssm.kernels import active_backend_summary

    info = {
        "worldssm": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info.update(active_backend_summary())
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for key, value in info.items():
            print(f"{key:32} {value}")
    return 0
