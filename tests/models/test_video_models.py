"""Every registered frame-prediction model: step == parallel, gradients, no NaNs, param groups."""

import dataclasses

import pytest
import torch

import worldssm
from worldssm.models import param_groups
from worldssm.registry import model_config

SMALL = dict(image_size=16, enc_channels=(4, 8), num_layers=2)
EXTRA = {"convs5": dict(state_size=8), "frame_transformer": dict(width=16, heads=2)}
FAMILIES = ["convs5", "convlstm", "frame_transformer"]


def small_model(family: str, **kw):
    return worldssm.create_model(f"{family}_tiny", **SMALL, **EXTRA.get(family, {}), **kw)


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("family", FAMILIES)
def test_step_rollout_equals_parallel(family):
    torch.manual_seed(0)
    model = small_model(family, action_dim=3).double().eval()
    x = torch.rand(2, 6, 1, 16, 16, dtype=torch.float64)
    actions = torch.randint(0, 3, (2, 6))
    reset = torch.zeros(2, 6, dtype=torch.bool)
    reset[0, 3] = True
    pred, last = model(x, actions=actions, reset=reset, return_state=True)
    state, preds = model.init_state(2, dtype=torch.float64), []
    for t in range(6):
        p, state = model.step(state, x[:, t], actions[:, t], reset[:, t])
        preds.append(p)
    assert _rel(torch.stack(preds, 1), pred) < 1e-10
    # chunked context then steps == one pass; reset == fresh episode
    p1, s1 = model(x[:, :4], actions=actions[:, :4], return_state=True)
    p2, _ = model.step(s1, x[:, 4], actions[:, 4])
    full = model(x, actions=actions)
    assert _rel(p2, full[:, 4]) < 1e-10
    fresh = model(x[:1, 3:], actions=actions[:1, 3:])
    assert _rel(pred[:1, 3:], fresh) < 1e-10


@pytest.mark.parametrize("family", FAMILIES)
def test_every_parameter_gets_a_gradient(family):
    torch.manual_seed(0)
    model = small_model(family)
    x = torch.rand(2, 4, 1, 16, 16)
    pred = model(x)
    assert pred.shape == x.shape and torch.isfinite(pred).all()
    assert pred.min() >= 0 and pred.max() <= 1
    torch.nn.functional.mse_loss(pred[:, :-1], x[:, 1:]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_registry_presets_and_errors():
    names = worldssm.list_models()
    for family in FAMILIES:
        assert family in names and f"{family}_tiny" in names
    paper = model_config("convs5")
    assert (paper.image_size, paper.d_model, paper.num_layers, paper.feature_size) == (
        64,
        256,
        8,
        16,
    )
    cfg = model_config("convs5_tiny", enc_channels=[8, 16])
    assert cfg.enc_channels == (8, 16)
    rebuilt = worldssm.create_model("convs5_tiny", **dataclasses.asdict(cfg))
    assert rebuilt.cfg == cfg
    with pytest.raises(KeyError, match="unknown model"):
        worldssm.create_model("nope")
    with pytest.raises(TypeError, match="no option"):
        worldssm.create_model("convs5_tiny", not_an_option=1)
    with pytest.raises(ValueError, match="action-conditioned"):
        small_model("convs5", action_dim=2)(torch.rand(1, 2, 1, 16, 16))


def test_param_groups_put_ssm_params_apart():
    model = small_model("convs5")
    groups = {g["name"]: g for g in param_groups(model, weight_decay=0.05, ssm_lr=1e-4)}
    ssm = {id(p) for p in groups["ssm"]["params"]}
    block = model.blocks[0].ssm
    for name in ("lambda_re", "lambda_im", "b_re", "b_im", "log_dt"):
        assert id(getattr(block, name)) in ssm
    assert id(block.c_re) not in ssm
    assert groups["ssm"]["weight_decay"] == 0 and groups["ssm"]["lr"] == 1e-4
    assert groups["decay"]["weight_decay"] == 0.05
    n = sum(len(g["params"]) for g in groups.values())
    assert n == len(list(model.parameters()))
    torch.optim.AdamW(list(groups.values()), lr=1e-3)


def test_checkpointed_layers_match():
    torch.manual_seed(0)
    model = small_model("convs5", checkpoint_layers=True).train()
    x = torch.rand(1, 3, 1, 16, 16)
    model(x).sum().backward()
    g1 = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.cfg.checkpoint_layers = False
    model(x).sum().backward()
    for a, p in zip(g1, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)
