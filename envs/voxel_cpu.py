"""The voxel renderer's optional CPU kernel: :func:`~worldssm.envs.voxel.render_voxels` in one C
function (``voxel_cpu.c``), compiled on first use with the system C compiler and called through
ctypes (which releases the GIL, so the renderer's two threads draw in parallel).

The C code does the same float operations in the same order as the torch ops (built with
``-ffp-contract=off``; ``MULADD`` follows how this machine's eager ``torch.addcmul`` rounds), so
the frames are identical; the tests check it against ``voxel_reference``. Torch ops draw instead
without a compiler (``$CC``, else ``cc``), after a failed build, or with
``WORLDSSM_VOXEL_COMPILE=0``. Builds are cached per machine in ``$XDG_CACHE_HOME/worldssm``
(default ``~/.cache/worldssm``), keyed by the source, the flags and the CPU model and flags.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from pathlib import Path

import torch

from worldssm.envs import cbuild
from worldssm.envs.raycast import camera_rays
from worldssm.envs.textures import fog_level, surface_id
from worldssm.envs.voxel import TABLE_STEP

_KERNEL_SOURCE = Path(__file__).with_name("voxel_cpu.c")
_KERNEL_FLAGS = (*cbuild.BASE_FLAGS,)
_kernel_lock = threading.Lock()
_kernel: list = []  # [ctypes function or None] once tried


class _KernelParams(ctypes.Structure):
    _fields_ = [(k, ctypes.c_int64) for k in ("h", "w", "g", "n", "s", "ls", "n_tab", "hs",
                                               "stride", "fog_first", "fog_key", "clouds")] + [
        (k, ctypes.c_float) for k in ("focal", "s_over_f", "neg_y0", "view_distance", "lv_scale",
                                      "sky_b", "minus_s", "table_step")]  # fmt: skip


def cpu_kernel():
    """The compiled C renderer (a ctypes function), or None where it is unavailable: switched off
    (``WORLDSSM_VOXEL_COMPILE=0``), no C compiler (``$CC``, else ``cc``), or a failed build.
    Built once per machine into ``$XDG_CACHE_HOME/worldssm`` (default ``~/.cache/worldssm``)."""
    if _kernel:
        return _kernel[0]
    with _kernel_lock:
        if not _kernel:
            _kernel.append(_build_kernel() if os.environ.get("WORLDSSM_VOXEL_COMPILE") != "0"
                           else None)  # fmt: skip
    return _kernel[0]


def _build_kernel():
    fn = cbuild.load_function(_KERNEL_SOURCE, "voxel", "voxel_render", _KERNEL_FLAGS, "VOXEL_FMA",
                              "the C voxel renderer")  # fmt: skip
    if fn is not None:
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.POINTER(_KernelParams), ctypes.c_int64] + [ctypes.c_void_p] * 10
    return fn


def render_kernel(fn, scene, pos, angle, eye, cam, atlas, lit, out):
    """render_voxels through the C kernel (CPU tensors); the same frames, None if it fails.

    Non-finite positions or eye heights also give None: the C march would index memory with
    them (a crash), while the torch ops raise an IndexError for the caller to see.
    """
    if not (bool(torch.isfinite(pos).all()) and bool(torch.isfinite(eye).all())):
        return None
    h, w, s = cam.height, cam.width, atlas.size
    b, g = pos.shape[0], scene.height.shape[-1]
    focal = (w / 2) / math.tan(math.radians(cam.fov_deg) / 2)
    rays = camera_rays(angle, w, cam.fov_deg).contiguous()
    n_tab = int(cam.view_distance * 2 * TABLE_STEP) + 2
    cpu = torch.device("cpu")  # (whatever torch's default device)
    table = fog_level(torch.arange(n_tab, device=cpu) / TABLE_STEP, cam.fog_density, lit.levels)
    table[-1].fill_(lit.levels - 1)
    table3 = table.mul_(len(lit.shades) * lit.stride).int().contiguous()
    y0, hs = 0.5 - h / 2, (h + 1) // 2
    yc = torch.arange(h, dtype=torch.float32, device=cpu) + 0.5 - h / 2
    q = torch.full_like(yc[hs:], -focal) / yc[hs:]
    heading = torch.atan2(rays[..., 1], rays[..., 0])
    sky_u = (((heading / (2 * math.pi) * 4 % 1) * s).to(torch.int32) & (s - 1)).contiguous()
    params = _KernelParams(
        h=h, w=w, g=g, n=int(cam.view_distance * 1.45) + 2, s=s, ls=s.bit_length() - 1,
        n_tab=n_tab, hs=hs, stride=lit.stride, fog_first=math.ceil(min(max(0.0 - y0, 0), h)),
        fog_key=(lit.levels - 1) * len(lit.shades) * lit.stride, clouds=surface_id("clouds"),
        focal=focal, s_over_f=s / focal, neg_y0=-y0, view_distance=cam.view_distance,
        lv_scale=TABLE_STEP / s, sky_b=-s / (h / 2), minus_s=-s, table_step=TABLE_STEP)  # fmt: skip
    frames = out if out is not None else torch.empty((b, h, w, 3), dtype=torch.uint8, device=cpu)
    args = [pos.float().contiguous(), eye.float().contiguous(), rays, sky_u,
            scene.cells.contiguous(), table3, yc, q, lit.rgb.contiguous(), frames]  # fmt: skip
    if fn(ctypes.byref(params), b, *(t.data_ptr() for t in args)) != 0:
        return None
    return frames
