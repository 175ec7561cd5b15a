"""Keep freed CPU memory inside the process (glibc ``mallopt``) while rendering many worlds.

A CPU render of a batch allocates and frees tens of MB of temporaries whose sizes vary from call
to call. glibc serves blocks above its mmap threshold with fresh ``mmap`` calls and gives freed
heap tops back to the OS, so the next render faults the same memory in again, page by page.
Measured on this project's 2-core machine (2026-11-27, one thread, 1024 envs, 64x64):
IndoorHabitat took 8,700-16,500 minor page faults per step + render and ran at 8.2-8.8k
frames/s; with :func:`keep_freed_memory` it had none and ran at 14.1-14.2k. MazeDMLab swung
between 0 and 14,000 faults from run to run (14k-25k frames/s). The renderers themselves cannot
avoid the churn without hand-managed buffers everywhere, hence this process-wide setting.

It is opt-in and process-wide: ``worldssm collect`` and ``benchmarks/envs.py`` call it on the
CPU; call it yourself before rendering on the CPU in your own process. The price is memory that
stays mapped after use (up to the largest working set, e.g. a few GB for 8192 envs at 128x128).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_MAX = -4
_applied = False


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap (no ``mmap``) and never trim the heap, process-wide.

    Linux with glibc only; elsewhere, or when ``WORLDSSM_MALLOC_TUNING=0``, it does nothing.

    Returns:
        True when the setting is in effect (also on later calls).
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("WORLDSSM_MALLOC_TUNING") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    return _applied
