"""Frame-interpolation inference: load a trained checkpoint (or the shipped one), export a slim
checkpoint, and run a model on batches of frame pairs of any size.

Checkpoints are the trainer's (``runs/<name>/checkpoint.pt``) or slim exports of them
(:func:`export_slim`: no optimizer, scheduler or RNG; weights in bf16), both read by
:func:`worldssm.train.checkpoint.load_checkpoint`. The shipped default lives in the
``worldssm.assets`` package as ``vfimamba_s/model.pt`` beside ``config.yaml`` and
``MODEL_CARD.md``; dropping those three files there makes it the default of
``worldssm interpolate``.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

SHIPPED_NAME = "vfimamba_s"


def shipped_checkpoint() -> Path:
    """Path of the shipped checkpoint (``worldssm/assets/vfimamba_s/model.pt``); may not exist."""
    import worldssm.assets

    return Path(worldssm.assets.__file__).parent / SHIPPED_NAME / "model.pt"


def load_interpolator(checkpoint: str | Path | None = None, device="cpu"):
    """Build the model of a trained checkpoint and load its weights (eval mode, float32).

    Args:
        checkpoint: a trainer checkpoint, a slim export, or a folder holding ``model.pt``;
            None loads the shipped checkpoint.

    Returns:
        (model, ckpt) with ``ckpt`` the checkpoint dict (``config``, ``step``, ...).
    """
    from worldssm.registry import create_model
    from worldssm.train.checkpoint import load_checkpoint

    if checkpoint is None:
        path = shipped_checkpoint()
        if not path.is_file():
            raise FileNotFoundError(
                f"no shipped interpolation checkpoint is installed ({path} is missing); pass "
                "--checkpoint PATH with a checkpoint trained by "
                "'worldssm train --config configs/vfimamba_s.yaml'"
            )
    else:
        path = Path(checkpoint)
        if path.is_dir():
            path = path / "model.pt"
    ckpt = load_checkpoint(path)
    if ckpt.get("task", "interpolation") != "interpolation" or "model_name" not in ckpt:
        raise ValueError(
            f"{path} is not a frame-interpolation checkpoint (task {ckpt.get('task')!r}); train "
            "one with data.kind vfi_embedded, vimeo90k or video_triplets"
        )
    model = create_model(ckpt["model_name"], **ckpt["model_config"])
    if not hasattr(model, "pad_multiple"):
        raise ValueError(f"{path}: model {ckpt['model_name']!r} is not an interpolation model")
    model.load_state_dict({k: v.float() for k, v in ckpt["model"].items()})
    return model.to(device).eval(), ckpt


def export_slim(src: str | Path, dst: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Write a small inference checkpoint: model weights cast to ``dtype`` plus the config,
    model name/config, step and task; no optimizer, scheduler or RNG state."""
    from worldssm.train.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(src)
    slim = {
        "model": {k: v.to(dtype) if v.is_floating_point() else v for k, v in ckpt["model"].items()},
        "config": ckpt["config"],
        "step": ckpt["step"],
        "model_name": ckpt["model_name"],
        "model_config": ckpt["model_config"],
        "task": ckpt.get("task", "interpolation"),
        "format": "slim",
    }
    save_checkpoint(dst, slim)
    return Path(dst)


class FrameInterpolator:
    """Runs an interpolation model on frames of any size, in batches.

    Frames are replicate-padded at the bottom/right to the model's multiple (``pad_multiple /
    scale``) and cropped back. ``scale < 1`` estimates the flow on frames resized by ``scale``
    (0.5 for 2K, 0.25 for 4K) and upsamples it (the model's ``scale`` argument); for a model
    without that argument the whole model runs on the resized frames and its output is upsampled.
    On CUDA the model runs under bf16 autocast.

    Args:
        model: ``model(img0, img1, t) -> pred`` ((B, 3, H, W) in [0, 1]).
        batch_size: frame pairs per forward pass.
        amp: bf16 autocast (default: on CUDA). Off for a model prepared for inference.
        graph: replay full batches of a :class:`~worldssm.models.vfimamba.VFIMamba` from a CUDA
            graph per frame size (:class:`~worldssm.models.vfimamba.GraphedVFIMamba`; 1080p
            23.8 against 22.9 frames/s, 720p 50.7 against 44.9 on one H100). Default: on CUDA
            without autocast for models that have ``interpolate``. On the CPU, True runs the
            graph's static-buffer code eagerly (tests).
    """

    def __init__(self, model, scale: float = 1.0, batch_size: int = 8, amp: bool | None = None,
                 graph: bool | None = None):  # fmt: skip
        if not 0 < scale <= 1:
            raise ValueError(f"--scale must be in (0, 1] (e.g. 0.5 or 0.25), got {scale}")
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.model, self.scale, self.batch_size = model, scale, batch_size
        self.device = next(model.parameters()).device
        self.amp = self.device.type == "cuda" if amp is None else amp
        self.native_scale = "scale" in inspect.signature(model.forward).parameters
        multiple = model.pad_multiple / scale
        if abs(multiple - round(multiple)) > 1e-6:
            raise ValueError(
                f"--scale {scale} must divide the model's multiple {model.pad_multiple}"
            )
        self.multiple = int(round(multiple))
        graphable = hasattr(model, "interpolate") and self.native_scale and not self.amp
        if graph is None:
            graph = graphable and self.device.type == "cuda"
        if graph and not graphable:
            raise ValueError(
                "graph=True needs a VFIMamba prepared for inference (no autocast); got "
                f"{type(model).__name__} with amp={self.amp}"
            )
        self.graph = graph
        self._runners: dict[tuple, object] = {}  # (padded shape, scale) -> GraphedVFIMamba

    @torch.no_grad()
    def __call__(self, img0: torch.Tensor, img1: torch.Tensor, t) -> torch.Tensor:
        """img0, img1: (B, 3, H, W) uint8 or float in [0, 1]; t: float or (B,). Returns (B, 3, H,
        W) float32 in [0, 1] on the model's device."""
        from worldssm.models.vfimamba import pad_to_multiple

        if img0.shape != img1.shape or img0.dim() != 4 or img0.shape[1] != 3:
            raise ValueError(
                f"frames must be two (B, 3, H, W) batches of one size; got {tuple(img0.shape)} "
                f"and {tuple(img1.shape)}"
            )
        b = img0.shape[0]
        t = (
            torch.as_tensor(t, dtype=torch.float32).expand(b)
            if not torch.is_tensor(t) or t.dim() == 0
            else t
        )
        outs = []
        for lo in range(0, b, self.batch_size):
            x0, x1 = (self._prep(x[lo : lo + self.batch_size]) for x in (img0, img1))
            tt = t[lo : lo + self.batch_size].to(self.device, torch.float32)
            x0, size = pad_to_multiple(x0, self.multiple)
            x1, _ = pad_to_multiple(x1, self.multiple)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                pred = self._forward(x0, x1, tt)
            outs.append(pred.float()[..., : size[0], : size[1]].clamp(0, 1))
        return torch.cat(outs)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.float() / 255 if x.dtype == torch.uint8 else x.float()

    def _forward(self, x0, x1, t):
        if self.graph and x0.shape[0] == self.batch_size:  # the last, partial batch: eager
            return self._graphed(x0, x1, t)
        if self.scale == 1:
            return self.model(x0, x1, t)
        if self.native_scale:
            return self.model(x0, x1, t, scale=self.scale)
        h, w = x0.shape[-2:]
        small = [F.interpolate(x, scale_factor=self.scale, mode="bilinear", antialias=True,
                               align_corners=False) for x in (x0, x1)]  # fmt: skip
        pred = self.model(*small, t)
        return F.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False)

    def _graphed(self, x0, x1, t):
        """One replay of the graph captured for this padded size (captured on first use)."""
        from worldssm.models.vfimamba import GraphedVFIMamba

        key = (tuple(x0.shape), self.scale)
        runner = self._runners.get(key)
        if runner is None:
            try:
                runner = GraphedVFIMamba(self.model, x0.shape, self.device, scale=self.scale)
            except RuntimeError as e:  # a failed capture must not stop a long video job
                msg = f"CUDA graph capture failed, interpolating without graphs: {e}"
                warnings.warn(msg, stacklevel=3)
                self.graph = False
                return self._forward(x0, x1, t)
            self._runners[key] = runner
        # The graph's output buffer is overwritten by its next replay: the caller's crop and
        # clamp below make a new tensor before that.
        return runner(x0, x1, t)
