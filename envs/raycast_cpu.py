"""The grid raycaster's optional CPU kernel: :func:`~worldssm.envs.raycast.render_grid` in two C
functions (``raycast_cpu.c``), compiled on first use with the system C compiler and called through
ctypes (the kernel draws on POSIX threads of its own, without the GIL).

The C code does the same float operations in the same order as the torch ops (built with
``-ffp-contract=off``; ``MULADD`` follows how this machine's eager ``torch.addcmul`` rounds), so
the frames are identical; the tests check it against the torch ops. The fog levels (an exp per
column) stay torch ops between the two calls. Torch ops draw instead without a compiler (``$CC``,
else ``cc``), after a failed build, or with ``WORLDSSM_RAYCAST_COMPILE=0``. Builds are cached per
machine in ``$XDG_CACHE_HOME/worldssm`` (default ``~/.cache/worldssm``), keyed by the source, the
flags and the CPU model and flags.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from pathlib import Path

import torch

from worldssm.envs import cbuild
from worldssm.envs.raycast import CameraConfig, GridScene, camera_rays, sprite_params
from worldssm.envs.textures import Atlas, fog_level, lit_atlas, surface_id

_KERNEL_SOURCE = Path(__file__).with_name("raycast_cpu.c")
_KERNEL_FLAGS = (*cbuild.BASE_FLAGS, "-pthread")
MAX_WIDTH = 1024  # MAXW of the C source
# Smallest batch share worth a thread of its own (one thread is started per pass and share).
MIN_ENVS_PER_THREAD = 32
_kernel_lock = threading.Lock()
_kernel: list = []  # [ctypes function or None] once tried
(POS, RAYS, WALLS, FLOOR, CEILING, SP_DEPTH, SP_LEFT, SP_HALFW, SP_TEX, SP_HEIGHT, SP_Z, DIST,
 WTEX, WU, SIDE, SD, SU, STEX, SH, SZ, WLEVEL, SLEVEL, SKY_U, T_ROW, PLEVEL, SKY_ROW, YC, ALPHA,
 RGB, OUT, N_PTR) = range(31)  # fmt: skip


class _KernelParams(ctypes.Structure):
    _fields_ = [(k, ctypes.c_int64) for k in ("h", "w", "g", "k", "s", "ls", "max_steps",
                                               "total_cells", "n_up", "nshade", "stride", "sky",
                                               "floor_uniform", "n_alpha", "n_rgb")] + [
        (k, ctypes.c_float) for k in ("s_over_f", "wtop", "eye_z", "focal", "fs")]  # fmt: skip


def cpu_kernel():
    """The compiled C renderer (a ctypes function), or None where it is unavailable: switched off
    (``WORLDSSM_RAYCAST_COMPILE=0``), no C compiler (``$CC``, else ``cc``), or a failed build.
    Built once per machine into ``$XDG_CACHE_HOME/worldssm`` (default ``~/.cache/worldssm``)."""
    if _kernel:
        return _kernel[0]
    with _kernel_lock:
        if not _kernel:
            _kernel.append(_build_kernel() if os.environ.get("WORLDSSM_RAYCAST_COMPILE") != "0"
                           else None)  # fmt: skip
    return _kernel[0]


def _build_kernel():
    fn = cbuild.load_function(_KERNEL_SOURCE, "raycast", "grid_render", _KERNEL_FLAGS, "GRID_FMA",
                              "the C raycaster")  # fmt: skip
    if fn is not None:
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.POINTER(_KernelParams), ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                       ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]  # fmt: skip
    return fn


def pixels_per_pass(static: bool, default: int) -> int:
    """CPU pixels per render pass of a grid world: the whole batch where this kernel draws (it
    works environment by environment, so no temporary grows with the pass, and one pass saves
    the concatenation of the chunks), else ``default`` (the torch ops' temporaries stay in cache).
    """
    return 1 << 40 if not static and cpu_kernel() is not None else default


def render_kernel(fn, scene: GridScene, pos: torch.Tensor, angle: torch.Tensor,
                  cam: CameraConfig, atlas: Atlas, floor_uniform: bool):  # fmt: skip
    """render_grid through the C kernel (CPU tensors, not the fixed-shape mode); the same frames,
    None if it fails.

    The batch is drawn on up to torch's thread count of threads (see ``raycast_cpu.c``); the torch
    ops in between run on this thread alone: intra-op threads would add a fork/join per op and
    stall, for up to hundreds of milliseconds, whenever another process holds a core (measured
    on the project's 2-core machine).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (the process-wide default too: restored)
    try:
        return _render(fn, scene, pos, angle, cam, atlas, floor_uniform, threads)
    finally:
        torch.set_num_threads(threads)


def _render(fn, scene, pos, angle, cam, atlas, floor_uniform, threads):
    h, w, s = cam.height, cam.width, atlas.size
    b, g, k = pos.shape[0], scene.walls.shape[-1], scene.sprite_tex.shape[1]
    floats = (pos, angle, scene.sprite_pos, scene.sprite_size, scene.sprite_z)
    if w > MAX_WIDTH or any(t.dtype != torch.float32 for t in floats):
        return None  # (the kernel computes in float32, as the torch ops do on float32 inputs)
    cpu = torch.device("cpu")
    lit = lit_atlas(atlas, cam.fog_color, shades=(1.0, 0.78))
    levels, nshade, stride = lit.levels, len(lit.shades), lit.stride
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    # The per-row and per-column values below are the torch ops of render_grid, unchanged.
    rays = camera_rays(angle, w, cam.fov_deg)
    yc = torch.arange(h, device=cpu, dtype=torch.float32) + 0.5 - h / 2
    n_up = (h + 1) // 2
    t_row = torch.where(yc > 0, cam.eye_z * focal / yc, (cam.wall_height - cam.eye_z) * focal / -yc)
    plevel = fog_level(t_row, cam.fog_density, levels) * (nshade * stride)
    if cam.sky:
        heading = torch.atan2(rays[..., 1], rays[..., 0])
        sky_u = ((heading / (2 * math.pi) * 4 % 1) * s).int().clamp(0, s - 1)
        sv = ((-yc.view(-1, 1) / (h / 2)).clamp(0, 0.999) * s).int()
        sky_row = (sv * s + surface_id("clouds") * s * s).view(-1)
    else:
        sky_u = sky_row = torch.zeros(1, dtype=torch.int32)
    if k:
        depth, half_w, left = sprite_params(scene, pos, angle, w, focal)
    else:
        depth = half_w = left = torch.zeros(1)
    f32, i32 = torch.float32, torch.int32
    cols = {n: torch.empty(b, w, dtype=t) for n, t in ((DIST, f32), (WTEX, i32), (WU, f32),
            (SIDE, i32), (SD, f32), (SU, f32), (STEX, i32), (SH, f32), (SZ, f32))}  # fmt: skip
    frames = torch.empty((b, h, w, 3), dtype=torch.uint8, device=cpu)
    keep = {  # the tensors whose pointers the kernel gets (kept alive until it returns)
        POS: pos.float().contiguous(), RAYS: rays.contiguous(),
        WALLS: scene.walls.long().contiguous(), FLOOR: scene.floor.int().contiguous(),
        CEILING: scene.ceiling.long().contiguous(), SP_DEPTH: depth.contiguous(),
        SP_LEFT: left.contiguous(), SP_HALFW: half_w.contiguous(),
        SP_TEX: scene.sprite_tex.long().contiguous(),
        SP_HEIGHT: scene.sprite_size[..., 1].contiguous(),
        SP_Z: scene.sprite_z.float().contiguous(),
        SKY_U: sky_u.contiguous(), T_ROW: t_row.contiguous(), PLEVEL: plevel.contiguous(),
        SKY_ROW: sky_row.contiguous(), YC: yc, ALPHA: atlas.alpha.contiguous().view(torch.uint8),
        RGB: lit.rgb.contiguous(), OUT: frames, **cols,
    }  # fmt: skip
    ptrs = (ctypes.c_void_p * N_PTR)()
    for i, t in keep.items():
        ptrs[i] = t.data_ptr()
    params = _KernelParams(
        h=h, w=w, g=g, k=k, s=s, ls=s.bit_length() - 1, max_steps=2 * g + 2,
        total_cells=scene.walls.numel(), n_up=n_up, nshade=nshade, stride=stride,
        sky=int(cam.sky), floor_uniform=int(floor_uniform), n_alpha=atlas.alpha.numel(),
        n_rgb=lit.rgb.shape[0], s_over_f=s / focal,
        wtop=(cam.wall_height - cam.eye_z) * s, eye_z=cam.eye_z, focal=focal, fs=s)  # fmt: skip
    threads = max(1, min(threads, b // MIN_ENVS_PER_THREAD))
    scratch = torch.empty(threads * h * w, dtype=torch.int32)  # each thread's pixel indices
    chunk = max(1, min(16, b // (8 * threads)))  # environments claimed at a time
    args = (ctypes.byref(params), b, chunk, threads, ptrs, scratch.data_ptr())
    if fn(args[0], 0, *args[1:]) != 0:
        return None
    # The fog levels of the walls and sprites (torch.exp, as render_grid computes them).
    wlevel = keep[WLEVEL] = fog_level(cols[DIST], cam.fog_density, levels).contiguous()
    slevel = fog_level(cols[SD], cam.fog_density, levels) * (nshade * stride)
    keep[SLEVEL] = slevel.contiguous()
    ptrs[WLEVEL], ptrs[SLEVEL] = wlevel.data_ptr(), keep[SLEVEL].data_ptr()
    if fn(args[0], 1, *args[1:]) != 0:
        return None
    return frames
