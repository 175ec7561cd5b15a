"""One frame-generation step captured in a CUDA graph.

Recurrent generation at paper sizes (batch 8, 16x16 latents) is launch bound: one step of the
ConvS5 model is a few hundred small kernels (decoder -> encoder -> 8 layers), each far shorter
than the time the CPU needs to launch it. A CUDA graph launches them all at once.

:class:`GraphedGenerationStep` captures ``pred, new = model.step(state, frame, action)`` followed
by ``state <- new`` and ``frame <- pred`` on static buffers, so one :meth:`~GraphedGenerationStep.
replay` advances generation by one frame with a single launch (plus the action copy). Only models
whose state keeps its shapes from step to step can be captured (``model.graphable_step``): ConvS5
and ConvLSTM, not the KV-cache Transformer.

Caveats (why the code looks the way it does):
- The graph bakes in the addresses of the weights and of the discretised operators that
  ``step`` caches while autograd is off; build a new runner after changing weights. The runner
  lives inside one :func:`worldssm.train.generate.generate` call.
- Autocast's weight-cast cache must not be filled or read during capture (its casts are freed
  when the outermost autocast region exits while the graph would still read them), so capture
  and warm-up run under the caller's autocast setting with ``cache_enabled=False``: the casts
  of the fp32 weights to bf16 become part of the graph.
"""

from __future__ import annotations

import contextlib

import torch

from worldssm.models.world_model import tree_map


def tree_leaves(tree) -> list[torch.Tensor]:
    """The tensors of ``tree`` in :func:`tree_map` order."""
    leaves: list[torch.Tensor] = []
    tree_map(leaves.append, tree)
    return leaves


def tree_copy_(dst, src) -> None:
    """Copy every tensor of ``src`` into the matching tensor of ``dst`` (same structure)."""
    d, s = tree_leaves(dst), tree_leaves(src)
    if len(d) != len(s):
        raise ValueError(f"state structures differ: {len(d)} vs {len(s)} tensors")
    for a, b in zip(d, s, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"state tensor changed shape: {tuple(a.shape)} -> {tuple(b.shape)}")
        a.copy_(b)


class GraphedGenerationStep:
    """Replays one closed-loop generation step: the prediction becomes the next input frame.

    Args:
        model: a frame predictor with ``graphable_step`` (fixed-shape state), in eval mode.
        state: the state to start from (copied into static buffers).
        frame: (B, C, H, W) the first input frame (copied).
        action: (B,) int, the first action (action-conditioned models), or None.
        capture: False runs the same static-buffer logic eagerly instead of a graph (CPU tests).
        warmup: eager steps on a side stream before capture (cuDNN/cuBLAS pick their algorithms
            and allocate workspaces outside the graph).

    Example::

        runner = GraphedGenerationStep(model, state, frame)
        for i in range(n):
            runner.replay()
            out[:, i] = runner.frame  # the static buffer: copy it before the next replay
    """

    def __init__(self, model, state, frame, action=None, capture: bool = True, warmup: int = 2):
        if not getattr(model, "graphable_step", False):
            raise ValueError(f"{type(model).__name__} has a growing state; it cannot be captured")
        if capture and not frame.is_cuda:
            raise ValueError("CUDA graph capture needs CUDA tensors; pass capture=False on CPU")
        self.model = model
        self.state = tree_map(torch.clone, state)
        self.frame = frame.clone()
        self.action = None if action is None else action.clone()
        self.graph = None
        dev = frame.device.type
        self._amp = (torch.is_autocast_enabled(dev), torch.get_autocast_dtype(dev), dev)
        if not capture:
            return
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), self._autocast(), torch.no_grad():
            for _ in range(warmup):
                # step is functional (returns a new state), so the static inputs stay untouched
                model.step(self.state, self.frame, self.action)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), self._autocast(), torch.no_grad():
            self._body()

    def _autocast(self):
        enabled, dtype, dev = self._amp
        if not enabled:
            return contextlib.nullcontext()
        return torch.autocast(dev, dtype=dtype, cache_enabled=False)

    def _body(self) -> None:
        pred, new = self.model.step(self.state, self.frame, self.action)
        tree_copy_(self.state, new)
        self.frame.copy_(pred)

    def replay(self, action: torch.Tensor | None = None) -> torch.Tensor:
        """Advance one frame; returns the prediction (the static ``frame`` buffer, (B, C, H, W))."""
        if action is not None:
            if self.action is None:
                raise ValueError("this runner was built without actions")
            self.action.copy_(action)
        if self.graph is not None:
            self.graph.replay()
        else:
            with self._autocast(), torch.no_grad():
                self._body()
        return self.frame
