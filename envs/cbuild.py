"""Build the CPU renderers' optional C kernels: compile a C source once per machine with the
system compiler and load one function from it through ctypes.

Used by :mod:`worldssm.envs.voxel_cpu` and :mod:`worldssm.envs.raycast_cpu`. Both kernels repeat
the torch ops' float operations in the same order, so they are built with ``-ffp-contract=off``
and told (``-D<FMA_MACRO>=0/1``) whether this machine's eager ``torch.addcmul`` rounds once or
twice (:func:`addcmul_is_fused`). The compiler is ``$CC``, else ``cc``; libraries are cached in
``$XDG_CACHE_HOME/worldssm`` (default ``~/.cache/worldssm``), keyed by the source, the compiler,
the flags and the CPU model and flags (builds use ``-march=native``, then plain flags if that
fails), and written atomically, so concurrent processes can build the same one.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

BASE_FLAGS = ("-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-shared",
              "-fPIC")  # fmt: skip


def addcmul_is_fused() -> bool | None:
    """Whether this machine's eager CPU ``torch.addcmul`` rounds once (fused multiply-add) or
    twice; None if it depends on the shape (then a kernel cannot match it and is not used)."""
    a = torch.full((67,), -1.0, device="cpu")
    b, c = torch.full_like(a, 1 + 2.0**-23), torch.full_like(a, 1 - 2.0**-23)
    outs = (torch.addcmul(a, b, c), torch.addcmul(a[:1], b[:1], c[:1]),
            torch.addcmul(a[:17], b.view(67, 1)[:3, :1], c[:17]))  # fmt: skip
    fused = {bool(x.ne(0).all()) for x in outs}  # b * c = 1 - 2**-46: 0 unless fused
    mixed = any(bool(x.ne(0).any()) != bool(x.ne(0).all()) for x in outs)
    return None if mixed or len(fused) > 1 else fused.pop()


def _cpu_identity() -> str:
    try:  # -march=native: the cache key holds the CPU model and flags
        with open("/proc/cpuinfo") as f:
            return "".join(x for x in f if x.startswith(("model name", "flags")))[:4000]
    except OSError:
        return platform.processor()


def load_function(source: Path, name: str, symbol: str, flags: tuple[str, ...],
                  fma_macro: str, what: str):  # fmt: skip
    """``symbol`` of ``source`` compiled with ``flags`` (a ctypes function, without its types
    set), or None: no compiler, an ``addcmul`` rounding the kernel cannot match, or a failed
    build (then it warns that ``what`` renders with torch ops). ``name`` prefixes the cached
    library's file name."""
    text = source.read_text()
    fused = addcmul_is_fused()
    cc = os.environ.get("CC") or "cc"
    if fused is None or shutil.which(cc) is None:
        return None
    cpu = _cpu_identity()
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "worldssm")  # fmt: skip
    for arch in (("-march=native",), ()):
        all_flags = (*flags, *arch, f"-D{fma_macro}={int(fused)}")
        key = hashlib.sha256("\0".join((text, cc, *all_flags, cpu)).encode()).hexdigest()[:16]
        lib = os.path.join(cache, f"{name}-{key}.so")
        try:
            if not os.path.exists(lib):
                os.makedirs(cache, exist_ok=True)
                with tempfile.TemporaryDirectory() as tmp:
                    src, tmp_lib = os.path.join(tmp, f"{name}.c"), os.path.join(tmp, f"{name}.so")
                    with open(src, "w") as f:
                        f.write(text)
                    subprocess.run([cc, *all_flags, src, "-o", tmp_lib, "-lm"], check=True,
                                   capture_output=True, timeout=120)  # fmt: skip
                    shutil.move(tmp_lib, lib + f".{os.getpid()}")
                    os.replace(lib + f".{os.getpid()}", lib)  # atomic for concurrent builders
            return getattr(ctypes.CDLL(lib), symbol)
        except (OSError, subprocess.SubprocessError, AttributeError):
            continue
    warnings.warn(f"worldssm: {what} did not build; the CPU renders with torch ops", stacklevel=4)
    return None
