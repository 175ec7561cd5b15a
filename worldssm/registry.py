"""Model registry: ``create_model(name, **overrides)`` over named presets.

Every model family has a ``tiny`` preset (CPU tests, the quickstart) and the paper-size preset
(Moving-MNIST sizes of Smith et al. 2023: 64x64 frames, encoder to 16x16x256, 8 layers).

Example::

    >>> import worldssm
    >>> model = worldssm.create_model("convs5_tiny", num_layers=3)
    >>> worldssm.list_models()
    ['convlstm', 'convlstm_tiny', 'convs5', 'convs5_tiny', 'frame_transformer', ...]
"""

from __future__ import annotations

import dataclasses

_TINY = dict(image_size=32, enc_channels=(16, 32, 32), num_layers=2)
_WM_TINY = dict(image_size=32, enc_channels=(8, 16, 32, 32), d_model=64, hidden=64, head_layers=1)
_WM_TINY.update(stoch=8, classes=8)

# name -> (model class path, config class path, preset defaults)
_PRESETS: dict[str, tuple[str, str, dict]] = {
    "convs5": ("convs5_video:ConvS5Video", "convs5_video:ConvS5VideoConfig", {}),
    "convs5_tiny": (
        "convs5_video:ConvS5Video",
        "convs5_video:ConvS5VideoConfig",
        dict(_TINY, state_size=32),
    ),
    "convlstm": ("convlstm:ConvLSTMVideo", "convlstm:ConvLSTMVideoConfig", {}),
    "convlstm_tiny": ("convlstm:ConvLSTMVideo", "convlstm:ConvLSTMVideoConfig", dict(_TINY)),
    "frame_transformer": (
        "frame_transformer:FrameTransformer",
        "frame_transformer:FrameTransformerConfig",
        {},
    ),
    "frame_transformer_tiny": (
        "frame_transformer:FrameTransformer",
        "frame_transformer:FrameTransformerConfig",
        dict(_TINY, width=64, heads=4, token_grid=2),
    ),
    # World models (issue 6): S4WM, RSSM, Transformer SSM behind one interface.
    "s4wm": ("s4wm:S4WM", "s4wm:S4WMConfig", {}),
    "s4wm_tiny": ("s4wm:S4WM", "s4wm:S4WMConfig", dict(_WM_TINY, num_layers=1, state_size=16)),
    "rssm": ("rssm:RSSM", "rssm:RSSMConfig", {}),
    "rssm_tiny": ("rssm:RSSM", "rssm:RSSMConfig", dict(_WM_TINY)),
    "transformer_wm": ("transformer_wm:TransformerWM", "transformer_wm:TransformerWMConfig", {}),
    "transformer_wm_tiny": (
        "transformer_wm:TransformerWM",
        "transformer_wm:TransformerWMConfig",
        dict(_WM_TINY, num_layers=1, heads=2, window=64),
    ),
}

# VFIMamba frame interpolation (F=16 ~17M and F=32 ~66M params as the paper) and the conv-only
# flow baseline of the same sizes (mixer="conv").
_VFI = ("vfimamba:VFIMamba", "vfimamba:VFIMambaConfig")
_VFI_TINY = dict(width=8, depths=(1, 1, 1, 1, 1), d_state=8, local_refine=True)
_VFI_S = dict(width=16, depths=(2, 2, 2, 3, 3), local_refine=True)
_VFI_BASE = dict(width=32, depths=(2, 2, 2, 3, 3), local_refine=True)
_PRESETS["vfimamba_tiny"] = (*_VFI, _VFI_TINY)
_PRESETS["vfimamba_s"] = (*_VFI, _VFI_S)
_PRESETS["vfimamba"] = (*_VFI, _VFI_BASE)
_PRESETS["vfiflow_conv_tiny"] = (*_VFI, dict(_VFI_TINY, mixer="conv"))
_PRESETS["vfiflow_conv_s"] = (*_VFI, dict(_VFI_S, mixer="conv"))
_PRESETS["vfiflow_conv"] = (*_VFI, dict(_VFI_BASE, mixer="conv"))


def _load(path: str):
    import importlib

    module, attr = path.split(":")
    return getattr(importlib.import_module(f"worldssm.models.{module}"), attr)


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_PRESETS)


def model_config(name: str, **overrides):
    """The resolved config dataclass of preset ``name`` with ``overrides`` applied."""
    name = name.replace("-", "_")  # "vfimamba-s" == "vfimamba_s"
    if name not in _PRESETS:
        raise KeyError(f"unknown model {name!r}; choose one of {list_models()}")
    _, cfg_path, defaults = _PRESETS[name]
    cfg_cls = _load(cfg_path)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"model {name!r} has no option(s) {unknown}; options: {sorted(fields)}")
    return cfg_cls(**{**defaults, **overrides})


def create_model(name: str, **overrides):
    """Build preset ``name`` (see :func:`list_models`) with config fields overridden.

    The resolved config is ``model.cfg`` (a dataclass); ``dataclasses.asdict(model.cfg)`` with
    ``name`` rebuilds the same model.
    """
    cfg = model_config(name, **overrides)
    name = name.replace("-", "_")
    return _load(_PRESETS[name][0])(cfg)
