"""worldssm: video and spatiotemporal world models built on state space models.

Everything rests on one kernel family, the diagonal linear recurrence
``h_t = a_t * h_{t-1} + b_t`` (:func:`worldssm.kernels.linear_scan`) and its selective (Mamba S6)
form (:func:`worldssm.kernels.selective_scan`).

Models: ``worldssm.create_model(name, **overrides)`` (see ``worldssm.list_models()``).
"""

__version__ = "0.1.0"


def create_model(name: str, **overrides):
    """Build a registered model; see :func:`worldssm.registry.create_model`."""
    from worldssm.registry import create_model as _create

    return _create(name, **overrides)


def list_models() -> list[str]:
    """Registered model names; see :func:`worldssm.registry.list_models`."""
    from worldssm.registry import list_models as _list

    return _list()
