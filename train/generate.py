"""Generation: condition on K frames in parallel, then recurrent steps (O(1) memory per step for
ConvS5 and ConvLSTM; a growing KV cache for the Transformer). Video writing and per-horizon metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from worldssm.models.cuda_graph import GraphedGenerationStep


def use_cuda_graph(model, context: torch.Tensor, cuda_graph: bool | None) -> bool:
    """Whether :func:`generate` captures its recurrent step in a CUDA graph.

    ``None`` (the default) means yes on CUDA for models with a fixed-shape state
    (``model.graphable_step``: ConvS5, ConvLSTM), unless the environment variable
    ``WORLDSSM_CUDA_GRAPH=0`` opts out globally.
    """
    graphable = getattr(model, "graphable_step", False)
    if cuda_graph is None:
        return context.is_cuda and graphable and os.environ.get("WORLDSSM_CUDA_GRAPH", "1") != "0"
    if cuda_graph and not (context.is_cuda and graphable):
        raise ValueError(
            f"cuda_graph=True needs CUDA inputs and a fixed-shape state; got "
            f"{context.device.type} inputs and {type(model).__name__}"
        )
    return cuda_graph


@torch.no_grad()
def generate(
    model,
    context: torch.Tensor,
    horizon: int,
    actions: torch.Tensor | None = None,
    cuda_graph: bool | None = None,
):
    """Predict ``horizon`` frames after ``context``.

    Args:
        model: a frame predictor (:mod:`worldssm.models.base`).
        context: (B, K, C, H, W) in [0, 1].
        horizon: N frames to generate.
        actions: (B, K + N - 1) int for action-conditioned models.
        cuda_graph: replay the recurrent step as one CUDA graph
            (:class:`worldssm.models.cuda_graph.GraphedGenerationStep`); None: automatic
            (see :func:`use_cuda_graph`), False: the eager reference path.

    Returns:
        (B, N, C, H, W) predictions; each is fed back as the next input.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 frame, got {horizon}")
    k = context.shape[1]
    ctx_actions = None if actions is None else actions[:, :k]
    pred, state = model(context, actions=ctx_actions, return_state=True)
    frame = pred[:, -1]
    shape = (frame.shape[0], horizon, *frame.shape[1:])
    out = torch.empty(shape, dtype=frame.dtype, device=frame.device)
    out[:, 0] = frame
    if horizon < 2:
        return out

    def action(i):
        return None if actions is None else actions[:, k + i - 1]

    if use_cuda_graph(model, context, cuda_graph):
        runner = GraphedGenerationStep(model, state, frame, action(1))
        for i in range(1, horizon):
            out[:, i] = runner.replay(action(i))
        return out
    for i in range(1, horizon):
        frame, state = model.step(state, frame, action(i))
        out[:, i] = frame
    return out


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, C, H, W) in [0, 1] -> (T, H, W, 3) uint8 (grey repeated to RGB)."""
    x = (frames.float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def side_by_side(real: torch.Tensor, pred: torch.Tensor, gap: int = 2) -> torch.Tensor:
    """(B, T, C, H, W) real and predicted -> (T, C, B*(H+gap), 2*W+gap) grid: real | predicted."""
    b, t, c, h, w = pred.shape
    canvas = torch.ones(t, c, b * (h + gap), 2 * w + gap)
    for i in range(b):
        y = i * (h + gap)
        canvas[:, :, y : y + h, :w] = real[i].float().cpu()
        canvas[:, :, y : y + h, w + gap :] = pred[i].float().cpu()
    return canvas


def write_mp4(path: str | Path, frames: np.ndarray, fps: int = 10) -> None:
    """Write (T, H, W, 3) uint8 to an H.264 mp4 with PyAV (sizes padded to even)."""
    import av

    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def first_frames_psnr(pred: torch.Tensor, real: torch.Tensor, frames: int = 20) -> list[float]:
    """Mean PSNR over the videos of each of the first ``frames`` predicted frames: how long a
    model holds the scene before it drifts (pred, real (B, N, C, H, W) in [0, 1]; capped at
    100 dB)."""
    from worldssm.eval.pixel import psnr  # lazy: worldssm.eval imports this module

    n = min(frames, pred.shape[1])
    p = psnr(pred[:, :n].float().clamp(0, 1), real[:, :n].float(), data_range=1.0)  # (B, n)
    return [round(v, 3) for v in p.clamp(max=100).mean(0).tolist()]


def horizon_metrics(pred: torch.Tensor, real: torch.Tensor, bucket: int = 100) -> list[dict]:
    """Per-bucket MSE and PSNR (frames in [0, 1]) over horizons 1..N: (B, N, C, H, W) each."""
    err = (pred.float() - real.float()).square().flatten(2).mean(-1)  # (B, N)
    rows = []
    for start in range(0, pred.shape[1], bucket):
        e = err[:, start : start + bucket]
        psnr = (10 * torch.log10(1.0 / e.clamp_min(1e-10))).mean()
        rows.append(
            {
                "frames": f"{start + 1}-{start + e.shape[1]}",
                "mse": e.mean().item(),
                "psnr": psnr.item(),
            }
        )
    return rows
