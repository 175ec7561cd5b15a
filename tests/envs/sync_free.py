"""A test helper that records the aten ops a block of code runs and flags host-device syncs.

On a GPU, every op whose output shape depends on tensor values (``nonzero``, boolean-mask
indexing, ``masked_select``, ``unique``), every read of a value on the host (``.item()``,
``.tolist()``, ``if tensor:``, ``torch.equal``) and every tensor built from host data inside the
loop (``torch.tensor([...], device=...)``: a host-to-device copy) makes the CPU wait until the GPU
has drained, and none of them can be captured in a CUDA graph. Running the code on CPU tensors
under :class:`SyncFreeCheck` finds them without a GPU: the mode sees every aten op after
autograd, whatever the device.

Usage::

    with SyncFreeCheck() as check:
        world.step(actions)
        world.render()
    assert not check.violations, check.report()
"""

from __future__ import annotations

import collections

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# Ops that read a device value on the host or have a data-dependent output shape.
SYNC_OPS = {
    "aten::nonzero": "data-dependent shape (and a sync)",
    "aten::_local_scalar_dense": ".item() / .tolist() / bool(tensor): reads a value on the host",
    "aten::masked_select": "data-dependent shape",
    "aten::masked_scatter": "data-dependent source size",
    "aten::_unique": "data-dependent shape",
    "aten::_unique2": "data-dependent shape",
    "aten::unique_dim": "data-dependent shape",
    "aten::unique_consecutive": "data-dependent shape",
    "aten::unique_dim_consecutive": "data-dependent shape",
    "aten::equal": "torch.equal returns a host bool",
    "aten::is_nonzero": "bool(tensor) reads a value on the host",
    "aten::allclose": "returns a host bool",
    "aten::lift_fresh": "a tensor built from host data (a host-to-device copy on GPU)",
}
# Ops whose tensor-index argument must not be boolean (a bool index means nonzero()).
INDEX_OPS = {"aten::index", "aten::index_put", "aten::index_put_", "aten::_index_put_impl_"}


def _bool_index(args) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


class SyncFreeCheck(TorchDispatchMode):
    """Record the aten ops run inside the block; ``violations`` lists the syncing ones.

    Attributes:
        ops: Counter of op name -> calls (overload names dropped, e.g. ``aten::add``).
        violations: list of (op name, why) in call order.
        allow: op names to accept anyway.
    """

    def __init__(self, allow: tuple[str, ...] = ()):
        super().__init__()
        self.ops: collections.Counter = collections.Counter()
        self.violations: list[tuple[str, str]] = []
        self.allow = set(allow)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        self.ops[name] += 1
        if name not in self.allow:
            if name in SYNC_OPS:
                self.violations.append((name, SYNC_OPS[name]))
            elif name in INDEX_OPS and _bool_index(args):
                self.violations.append((name, "boolean-mask index: nonzero() inside"))
            elif name == "aten::repeat_interleave" and not kwargs.get("output_size"):
                if isinstance(args[0], torch.Tensor) and args[0].dtype != torch.bool:
                    self.violations.append((name, "output size read from the repeats tensor"))
            elif name in ("aten::_to_copy", "aten::copy_"):
                self._check_devices(name, args, kwargs or {})
        return func(*args, **(kwargs or {}))

    def _check_devices(self, name, args, kwargs) -> None:
        """Copies between devices (only visible when the code runs on several devices)."""
        src = args[1] if name == "aten::copy_" else args[0]
        dst = args[0].device if name == "aten::copy_" else kwargs.get("device", src.device)
        if isinstance(src, torch.Tensor) and torch.device(dst) != src.device:
            self.violations.append((name, f"copy {src.device} -> {dst}"))

    def report(self) -> str:
        """The violations, counted, and the number of ops recorded."""
        count = collections.Counter(self.violations)
        lines = [f"{n}x {op}: {why}" for (op, why), n in count.most_common()]
        return f"{sum(self.ops.values())} ops; sync sources:\n" + "\n".join(lines)
