"""Optimizer parameter groups: SSM parameters (Λ, B, log Δ) apart and without weight decay."""

from __future__ import annotations

from torch import nn


def param_groups(model: nn.Module, weight_decay: float, ssm_lr: float | None = None) -> list[dict]:
    """Split ``model``'s parameters into three optimizer groups.

    - ``ssm``: Λ (re, im), B̃ (re, im) and log Δ of every S5/ConvS5 layer (any module with a
      ``ssm_param_names`` attribute); weight decay 0, learning rate ``ssm_lr`` if given.
    - ``no_decay``: biases and normalisation weights (1-D parameters); weight decay 0.
    - ``decay``: the rest; ``weight_decay``.

    Empty groups are dropped. Pass the result to ``torch.optim.AdamW``.
    """
    ssm_ids = set()
    for module in model.modules():
        for name in getattr(module, "ssm_param_names", ()):
            ssm_ids.add(id(getattr(module, name)))
    groups = {"ssm": [], "no_decay": [], "decay": []}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if id(p) in ssm_ids:
            groups["ssm"].append(p)
        elif p.dim() <= 1:
            groups["no_decay"].append(p)
        else:
            groups["decay"].append(p)
    out = []
    for name, params in groups.items():
        if not params:
            continue
        group = {
            "name": name,
            "params": params,
            "weight_decay": 0.0 if name != "decay" else weight_decay,
        }
        if name == "ssm" and ssm_lr is not None:
            group["lr"] = ssm_lr
        out.append(group)
    return out
