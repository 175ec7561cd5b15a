"""``world.step(action)`` + ``world.render()`` captured in one CUDA graph.

Stepping and rendering a batch of worlds is a few hundred to a thousand small kernels (the DDA
march alone is ~13 per cell crossed); at a few thousand environments each kernel is shorter than
the CPU needs to launch it, so an eager GPU loop waits on the CPU. With ``static_shapes`` the
pair never reads a device value on the host and keeps every shape fixed, so it can be captured
once and replayed with a single launch (plus the copy of the actions).

Caveats (why the code looks the way it does):
- The graph reads and writes the world's state tensors in place (``pos``, ``angle``, the scene),
  so they must keep their storage: ``reset`` writes into them (fine between replays); code that
  rebinds a state attribute to a new tensor would silently detach it from the graph.
- Warm-up runs real steps (caches such as the lit atlas and the voxel workspace are built and
  the allocator settles outside the graph); the world's state is saved before and restored after,
  so the runner starts from the state the world had.
- The outputs are static buffers, overwritten by the next replay: copy what you keep.
- Shapes are fixed at capture: a runner serves one world with its ``num_envs``.
"""

from __future__ import annotations

import torch

from worldssm.envs.world import World


def _state_tensors(obj, seen=None) -> list[torch.Tensor]:
    """The tensors reachable through ``obj.__dict__`` (dataclasses and dicts included), except
    under private ``_names`` (constant tables, caches and scratch buffers, not state)."""
    seen = set() if seen is None else seen
    out = []
    items = obj.items() if isinstance(obj, dict) else vars(obj).items()
    for k, v in items:
        if isinstance(k, str) and k.startswith("_"):
            continue
        if isinstance(v, torch.Tensor):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        elif isinstance(v, dict) or hasattr(v, "__dataclass_fields__"):
            out += _state_tensors(v, seen)
    return out


class GraphedWorldStep:
    """Replays ``reward, terminated = world.step(action); frames = world.render()``.

    Args:
        world: a built-in world on a CUDA device (``static_shapes`` is switched on).
        capture: False runs the same static-buffer logic eagerly (CPU, tests).
        warmup: eager steps on a side stream before capture.

    Attributes:
        action: (B,) long static input. reward (B,) float32, terminated (B,) bool and frames
            (B, H, W, 3) uint8: static outputs of the last replay.

    Example::

        runner = GraphedWorldStep(world)
        for t in range(n):
            frames = runner.replay(actions[t])  # (B, H, W, 3) uint8, valid until next replay
    """

    def __init__(self, world: World, capture: bool = True, warmup: int = 2):
        if capture and world.device.type != "cuda":
            raise ValueError(
                f"CUDA graph capture needs a world on a CUDA device, got {world.device}; "
                "pass capture=False to run the same steps eagerly"
            )
        world.static_shapes = True
        self.world = world
        b, dev = world.num_envs, world.device
        self.action = torch.zeros(b, dtype=torch.long, device=dev)
        self.graph = None
        self.reward = self.terminated = self.frames = None
        if not capture:
            return
        saved = [(t, t.clone()) for t in _state_tensors(world)]
        stream = torch.cuda.Stream(dev)
        stream.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(max(1, warmup)):
                world.step(self.action)
                world.render()
        torch.cuda.current_stream(dev).wait_stream(stream)
        for t, copy in saved:  # warm-up moved the agents; start from where the world was
            t.copy_(copy)
        del saved
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.reward, self.terminated = world.step(self.action)
            self.frames = world.render()

    def replay(self, action: torch.Tensor | None = None) -> torch.Tensor:
        """Step every environment with ``action`` ((B,) ints; None: the last one) and render.

        Returns:
            the static (B, H, W, 3) uint8 ``frames`` buffer (``reward``, ``terminated`` too;
            without capture they are fresh tensors, set by the first replay).
        """
        if action is not None:
            self.action.copy_(self.world.check_action(action), non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
        else:
            with torch.no_grad():
                self.reward, self.terminated = self.world.step(self.action)
                self.frames = self.world.render()
        return self.frames
