"""The contract every frame-prediction model follows, and the encoder/decoder they share.

A model maps frames x_0..x_{T-1} (B, T, C, H, W) in [0, 1] to predictions of x_1..x_T:
``pred[:, t]`` is the prediction of frame t+1 given frames ≤ t (and actions ≤ t).

- ``forward(frames, actions=None, reset=None, state=None, return_state=False)``: parallel (or, for
  ConvLSTM, looped) pass over a whole clip; with ``return_state`` also the state after it.
- ``init_state(batch, device, dtype)``: the empty state.
- ``step(state, frame, action=None, reset=None) -> (pred, state)``: one frame (B, C, H, W);
  functional (the input state is not modified), which CUDA-graph capture relies on.

Subclasses implement ``_core(feats, reset, state) -> (out, state)`` over (B, T, D, h, w) features
and ``_core_step(state, feat, reset) -> (out, state)`` over (B, D, h, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from worldssm.layers.resnet import FrameDecoder, FrameEncoder


@dataclass
class VideoModelConfig:
    """Sizes shared by all frame-prediction models.

    Attributes:
        image_channels: C of the frames (1 for digits, 3 for RGB).
        image_size: H = W of the frames (divisible by the encoder's downsampling).
        enc_channels: widths of the encoder stages; the last is d_model, the width of the core.
        enc_blocks: residual blocks per encoder/decoder stage.
        num_layers: layers of the temporal core.
        action_dim: number of discrete actions (0: no action conditioning).
        checkpoint_layers: recompute core layers in the backward pass (saves memory).
    """

    image_channels: int = 1
    image_size: int = 64
    enc_channels: tuple[int, ...] = (64, 128, 256)
    enc_blocks: int = 1
    num_layers: int = 8
    action_dim: int = 0
    checkpoint_layers: bool = False

    def __post_init__(self):
        self.enc_channels = tuple(int(c) for c in self.enc_channels)
        down = 2 ** (len(self.enc_channels) - 1)
        if self.image_size % down:
            raise ValueError(f"image_size {self.image_size} must be divisible by {down}")

    @property
    def d_model(self) -> int:
        return self.enc_channels[-1]

    @property
    def feature_size(self) -> int:
        return self.image_size // 2 ** (len(self.enc_channels) - 1)


class FramePredictor(nn.Module):
    """Encoder -> temporal core (subclass) -> decoder, with optional action embeddings.

    ``graphable_step``: the state keeps its shapes from step to step, so generation may replay
    :meth:`step` as a CUDA graph (:mod:`worldssm.models.cuda_graph`); False for growing states.
    """

    graphable_step = True

    def __init__(self, cfg: VideoModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = FrameEncoder(cfg.image_channels, cfg.enc_channels, cfg.enc_blocks)
        self.decoder = FrameDecoder(cfg.image_channels, cfg.enc_channels, cfg.enc_blocks)
        self.action_embed = nn.Embedding(cfg.action_dim, cfg.d_model) if cfg.action_dim else None

    # -- shared pieces -------------------------------------------------------------------------
    def _check(self, frames: torch.Tensor, time_dim: bool) -> None:
        c, s = self.cfg.image_channels, self.cfg.image_size
        want = (c, s, s)
        if frames.dim() != (5 if time_dim else 4) or tuple(frames.shape[-3:]) != want:
            shape = "(B, T, C, H, W)" if time_dim else "(B, C, H, W)"
            raise ValueError(
                f"{type(self).__name__} expects frames {shape} with (C, H, W) = {want}; "
                f"got {tuple(frames.shape)}"
            )

    def _encode(self, frames: torch.Tensor, actions: torch.Tensor | None) -> torch.Tensor:
        """(N, C, H, W) -> (N, D, h, w), plus the action embedding when conditioned."""
        feat = self.encoder(frames)
        if self.action_embed is not None:
            if actions is None:
                raise ValueError(
                    f"this model is action-conditioned (action_dim={self.cfg.action_dim}); "
                    "pass actions"
                )
            feat = feat + self.action_embed(actions.long())[:, :, None, None]
        return feat

    def _decode(self, feat: torch.Tensor) -> torch.Tensor:
        """(N, D, h, w) -> frames (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(feat))

    # -- public API ----------------------------------------------------------------------------
    def forward(
        self,
        frames: torch.Tensor,
        actions: torch.Tensor | None = None,
        reset: torch.Tensor | None = None,
        state=None,
        return_state: bool = False,
    ):
        """Predict x_1..x_T from x_0..x_{T-1}.

        Args:
            frames: (B, T, C, H, W) in [0, 1].
            actions: (B, T) int, the action taken after frame t (action-conditioned models).
            reset: (B, T) bool, True where a new episode starts.
            state: the state to continue from (``init_state`` if None).
            return_state: also return the state after the last frame.

        Returns:
            predictions (B, T, C, H, W) in [0, 1], and the state if ``return_state``.
        """
        self._check(frames, time_dim=True)
        bsz, t = frames.shape[:2]
        flat_actions = None if actions is None else actions.reshape(bsz * t)
        feats = self._encode(frames.flatten(0, 1), flat_actions).unflatten(0, (bsz, t))
        if state is None:
            state = self.init_state(bsz, frames.device, frames.dtype)
        out, state = self._core(feats, reset, state)
        pred = self._decode(out.flatten(0, 1)).unflatten(0, (bsz, t))
        return (pred, state) if return_state else pred

    def step(self, state, frame: torch.Tensor, action=None, reset=None):
        """One recurrent step: frame (B, C, H, W) -> (prediction of the next frame, new state)."""
        self._check(frame, time_dim=False)
        feat = self._encode(frame, action)
        out, state = self._core_step(state, feat, reset)
        return self._decode(out), state

    def init_state(self, batch: int, device=None, dtype=torch.float32):
        raise NotImplementedError

    def _core(self, feats, reset, state):
        raise NotImplementedError

    def _core_step(self, state, feat, reset):
        raise NotImplementedError
