"""Typed training config: YAML presets in ``configs/``, ``--section.key value`` overrides.

A config has four sections: ``model`` (``name`` plus registry overrides), ``data``, ``optim``
and ``run``. ``data.kind`` picks the task: frame prediction or frame interpolation. The resolved
config is saved beside every run and inside every checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class DataConfig:
    """kind: ``moving_digits``, ``teco_dmlab``, ``teco_mp4`` or ``mp4`` (frame prediction), or
    ``vfi_embedded``, ``vimeo90k``, ``video_triplets`` (frame interpolation); the rest as in the
    datasets (:class:`MovingDigits`, :class:`VideoFolder`, :mod:`worldssm.train.triplets`)."""

    kind: str = "moving_digits"
    seq_len: int = 32
    image_size: int = 64
    num_digits: int = 2
    mnist_path: str | None = None
    root: str | None = None
    split: str | None = "train"
    num_workers: int = 0
    # Frame interpolation (kinds vfi_embedded, vimeo90k, video_triplets; image_size = crop side).
    max_gap: int = 8  # largest frame gap of video/world triplets at full curriculum
    max_motion: float = 48.0  # largest synthetic displacement in pixels at full curriculum
    curriculum_steps: int = 0  # steps over which motion grows to the maximum (0: no curriculum)
    curriculum_start: float = 0.25  # fraction of the maximum motion at step 0
    world_weight: float = 0.3  # share of triplets from the built-in worlds (vfi_embedded)
    world_clips: int = 64  # clips rendered from the worlds (vfi_embedded)
    clip_len: int = 24
    val_size: int = 0  # held-out validation triplets (0: no validation)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    ssm_lr: float | None = None
    weight_decay: float = 0.05
    warmup_steps: int = 100
    grad_clip: float = 1.0
    batch_size: int = 8


@dataclass
class RunConfig:
    steps: int = 1000
    max_minutes: float | None = None
    run_dir: str = "runs/default"
    seed: int = 0
    log_every: int = 10
    sample_every: int = 0
    checkpoint_every: int = 200
    val_every: int = 0  # validate every N steps (interpolation: PSNR on held-out triplets)
    amp: bool = True
    device: str = "auto"


@dataclass
class TrainConfig:
    model: dict = field(default_factory=lambda: {"name": "convs5_tiny"})
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        unknown = sorted(set(d) - {"model", "data", "optim", "run"})
        if unknown:
            hint = ""
            if {"env", "replay", "ac"} & set(unknown):
                hint = "; this is an agent config: run it with `worldssm agent --config FILE`"
            raise ValueError(f"unknown config section(s) {unknown}{hint}")
        kw = {"model": dict(d.get("model", {"name": "convs5_tiny"}))}
        for name, sub in (("data", DataConfig), ("optim", OptimConfig), ("run", RunConfig)):
            kw[name] = typed_section(name, sub, d.get(name))
        if "name" not in kw["model"]:
            raise ValueError("config 'model' needs a 'name' (see worldssm.list_models())")
        return cls(**kw)


# Model options settable as --model.<key> (a test checks this against the model config classes).
MODEL_KEYS = (
    "name image_channels image_size enc_channels enc_blocks num_layers action_dim "
    "checkpoint_layers state_size ssm_blocks conj_sym dt_min dt_max discretization clip_eigs "
    "kernel_size width heads token_grid mlp_ratio"
).split()


# Frame-interpolation model options (VFIMambaConfig fields not already in MODEL_KEYS).
VFI_MODEL_KEYS = (
    "depths mixer d_state expand head_width unet_width local_refine local_width".split()
)


def override_keys() -> list[str]:
    """Every ``section.key`` accepted as a ``--section.key value`` override."""
    keys = [f"model.{k}" for k in MODEL_KEYS + VFI_MODEL_KEYS]
    for name, sub in (("data", DataConfig), ("optim", OptimConfig), ("run", RunConfig)):
        keys += [f"{name}.{f.name}" for f in dataclasses.fields(sub)]
    return keys


def overrides_from_namespace(args, keys: list[str] | None = None) -> dict:
    """Nested overrides from an argparse namespace built with ``--section.key`` options for
    ``keys`` (default :func:`override_keys`); values are strings parsed as YAML, unset ones
    are skipped."""
    out: dict = {}
    for key in keys or override_keys():
        value = getattr(args, key.replace(".", "__"), None)
        if value is not None:
            section, name = key.split(".")
            out.setdefault(section, {})[name] = yaml.safe_load(value)
    return out


def parse_overrides(items: list[str]) -> dict:
    """``["--optim.lr", "3e-4", "--run.steps=50"]`` -> nested dict (values parsed as YAML)."""
    out: dict = {}
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise ValueError(f"expected --section.key, got {item!r}")
        if "=" in item:
            key, value = item[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ValueError(f"override {item} has no value")
            key, value = item[2:], items[i + 1]
            i += 2
        parts = key.replace("-", "_").split(".")
        if len(parts) != 2:
            raise ValueError(f"override keys look like --section.key; got --{key}")
        out.setdefault(parts[0], {})[parts[1]] = yaml.safe_load(value)
    return out


def load_config(path: str | Path | None, overrides: dict | None = None) -> TrainConfig:
    """Read a YAML preset (or defaults when None) and apply nested ``overrides``."""
    return TrainConfig.from_dict(read_config_dict(path, overrides, "config file not found: {path}"))


def read_config_dict(path: str | Path | None, overrides: dict | None, missing: str) -> dict:
    """The YAML mapping at ``path`` ({} when None) with nested ``overrides`` merged per section;
    a missing file raises ``FileNotFoundError(missing.format(path=path))``."""
    d: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(missing.format(path=path))
        d = yaml.safe_load(path.read_text()) or {}
    for section, vals in (overrides or {}).items():
        d[section] = {**(d.get(section) or {}), **vals}
    return d


def typed_section(name: str, cls, vals: dict | None):
    """``cls(**vals)`` for config section ``name``; unknown keys raise a ValueError listing the
    valid ones."""
    vals = vals or {}
    fields = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(vals) - fields)
    if bad:
        raise ValueError(f"unknown {name} option(s) {bad}; options: {sorted(fields)}")
    return cls(**vals)
