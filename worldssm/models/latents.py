"""Stochastic latents of the world models: diagonal Gaussian or categorical (straight-through).

A latent family turns raw network outputs into *stats* (a dict of tensors), samples z from them
and measures KL divergences between two sets of stats. Stats have any leading shape (B, [T,]):

- :class:`GaussianLatent`: stats ``mean``, ``std`` (..., S); z (..., S).
- :class:`CategoricalLatent`: stats ``logits`` (..., S, K) (log-probabilities after mixing in
  ``unimix`` of the uniform distribution, DreamerV3); z is S one-hot vectors flattened to
  (..., S·K), sampled with straight-through gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class GaussianLatent:
    """Diagonal Gaussian z of ``size`` dims; std = softplus(raw) + ``min_std``."""

    def __init__(self, size: int, min_std: float = 0.1):
        self.size = size
        self.min_std = min_std
        self.num_stats = 2 * size  # raw network outputs per step
        self.z_dim = size

    def stats(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """raw (..., 2S) -> {mean, std} (..., S), at least float32."""
        mean, std = _at_least_fp32(raw).chunk(2, dim=-1)
        return {"mean": mean, "std": F.softplus(std) + self.min_std}

    def sample(self, stats: dict[str, torch.Tensor], sample: bool = True) -> torch.Tensor:
        """A reparameterised sample (or the mean when ``sample`` is False), (..., S)."""
        if not sample:
            return stats["mean"]
        return stats["mean"] + stats["std"] * torch.randn_like(stats["std"])

    def kl(self, lhs: dict[str, torch.Tensor], rhs: dict[str, torch.Tensor]) -> torch.Tensor:
        """KL(lhs ‖ rhs) summed over the latent dims: (...,)."""
        var_ratio = (lhs["std"] / rhs["std"]) ** 2
        diff = ((lhs["mean"] - rhs["mean"]) / rhs["std"]) ** 2
        return 0.5 * (var_ratio + diff - 1 - torch.log(var_ratio)).sum(-1)

    def entropy(self, stats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Entropy summed over dims: (...,)."""
        return (0.5 * torch.log(2 * torch.pi * torch.e * stats["std"] ** 2)).sum(-1)


class CategoricalLatent:
    """``groups`` categorical variables of ``classes`` classes each, one-hot, straight-through."""

    def __init__(self, groups: int, classes: int, unimix: float = 0.01):
        self.groups = groups
        self.classes = classes
        self.unimix = unimix
        self.num_stats = groups * classes
        self.z_dim = groups * classes

    def stats(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """raw (..., S·K) -> {logits} (..., S, K): log of (1 - u)·softmax + u / K, at least
        float32."""
        logits = _at_least_fp32(raw).unflatten(-1, (self.groups, self.classes))
        if self.unimix > 0:
            probs = torch.softmax(logits, -1)
            probs = (1 - self.unimix) * probs + self.unimix / self.classes
            logits = torch.log(probs)
        else:
            logits = torch.log_softmax(logits, -1)
        return {"logits": logits}

    def sample(self, stats: dict[str, torch.Tensor], sample: bool = True) -> torch.Tensor:
        """One-hot sample (the mode when ``sample`` is False) with straight-through gradients
        (the forward value is exactly one-hot), flattened to (..., S·K)."""
        logits = stats["logits"]
        probs = logits.exp()
        if sample:
            flat = probs.reshape(-1, self.classes)
            idx = torch.multinomial(flat, 1).reshape(probs.shape[:-1])
        else:
            idx = logits.argmax(-1)
        onehot = F.one_hot(idx, self.classes).to(probs.dtype)
        z = onehot + (probs - probs.detach())  # exactly one-hot forward, gradient of probs
        return z.flatten(-2)

    def kl(self, lhs: dict[str, torch.Tensor], rhs: dict[str, torch.Tensor]) -> torch.Tensor:
        """KL(lhs ‖ rhs) summed over the groups: (...,)."""
        p = lhs["logits"].exp()
        return (p * (lhs["logits"] - rhs["logits"])).sum((-2, -1))

    def entropy(self, stats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Entropy summed over groups: (...,)."""
        logits = stats["logits"]
        return -(logits.exp() * logits).sum((-2, -1))


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    # Under autocast the nets emit bf16/fp16; KL and log-probs need float32 precision.
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def make_latent(kind: str, stoch: int, classes: int, min_std: float, unimix: float):
    """The latent family named ``kind`` ("gaussian" or "categorical")."""
    if kind == "gaussian":
        return GaussianLatent(stoch, min_std)
    if kind == "categorical":
        return CategoricalLatent(stoch, classes, unimix)
    raise ValueError(f"latent must be 'gaussian' or 'categorical'; got {kind!r}")


def detach_stats(stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same stats with gradients stopped (for KL balancing)."""
    return {k: v.detach() for k, v in stats.items()}
