"""Every registered frame-prediction model: step == parallel, gradients, no NaNs, param groups."""

import dataclasses

import pytest
import torch

import worldssm
from worldssm.models import param_groups
from worldssm.models.cuda_graph import GraphedGenerationStep, tree_leaves
from worldssm.models.frame_transformer import generate_without_cache
from worldssm.registry import model_config
from worldssm.train.generate import generate

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


@pytest.mark.parametrize("family", ["convs5", "convlstm"])
def test_checkpointed_layers_match(family):
    """Checkpointed training (ConvS5 per layer, ConvLSTM per time chunk) gives the same grads."""
    torch.manual_seed(0)
    model = small_model(family, checkpoint_layers=True).double().train()
    model.checkpoint_chunk = 2  # ConvLSTM only
    x = torch.rand(2, 5, 1, 16, 16, dtype=torch.float64)  # 5 frames: chunks of 2, 2 and 1
    reset = torch.zeros(2, 5, dtype=torch.bool)
    reset[1, 3] = True
    state = model.init_state(2, dtype=torch.float64)
    for t in tree_leaves(state):
        t.normal_()

    def grads():
        model.zero_grad()
        pred, last = model(x, reset=reset, state=state, return_state=True)
        (pred.sum() + sum(t.square().sum() for t in tree_leaves(last))).backward()
        return [p.grad.clone() for p in model.parameters()]

    g1 = grads()
    model.cfg.checkpoint_layers = False
    g2 = grads()
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_generate_horizon_one_and_zero():
    model = small_model("convs5").eval()
    ctx = torch.rand(2, 3, 1, 16, 16)
    assert generate(model, ctx, 1).shape == (2, 1, 1, 16, 16)
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        generate(model, ctx, 0)


def test_convs5_float32_long_context_then_steps_equals_parallel():
    """The quickstart's path in float32: a 100-frame parallel context, then recurrent steps on
    real frames, equals one parallel pass over the whole clip (no drift from the state hand-off
    or from accumulating the near-unit-modulus modes over a context far longer than training)."""
    torch.manual_seed(0)
    model = small_model("convs5").eval()
    x = torch.rand(2, 120, 1, 16, 16)
    with torch.no_grad():
        full = model(x)
        _, state = model(x[:, :100], return_state=True)
        steps = []
        for t in range(100, 120):
            p, state = model.step(state, x[:, t])
            steps.append(p)
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 100:], rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", ["convs5", "convlstm"])
def test_graph_runner_bookkeeping_equals_eager_generation(family):
    """The runner's static-buffer loop (run eagerly on CPU) reproduces generate's eager loop."""
    torch.manual_seed(0)
    model = small_model(family, action_dim=3).double().eval()
    ctx = torch.rand(2, 3, 1, 16, 16, dtype=torch.float64)
    actions = torch.randint(0, 3, (2, 3 + 5 - 1))
    ref = generate(model, ctx, 5, actions, cuda_graph=False)
    with torch.no_grad():
        pred, state = model(ctx, actions=actions[:, :3], return_state=True)
        runner = GraphedGenerationStep(model, state, pred[:, -1], actions[:, 3], capture=False)
        frames = [pred[:, -1]] + [runner.replay(actions[:, 3 + i - 1]).clone() for i in range(1, 5)]
    torch.testing.assert_close(torch.stack(frames, 1), ref, rtol=0, atol=0)


def test_graph_refuses_growing_state_and_cpu():
    model = small_model("frame_transformer").eval()
    ctx = torch.rand(1, 2, 1, 16, 16)
    with pytest.raises(ValueError, match="fixed-shape"):
        generate(model, ctx, 3, cuda_graph=True)
    with pytest.raises(ValueError, match="growing"):
        GraphedGenerationStep(model, model.init_state(1), ctx[:, 0], capture=False)
    with pytest.raises(ValueError, match="CUDA"):
        generate(small_model("convs5").eval(), ctx, 3, cuda_graph=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("family", ["convs5", "convlstm"])
@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
def test_cuda_graph_generation_equals_eager(family, amp, monkeypatch):
    # TF32 off so the fp32 comparison can be tight: a stale buffer would show as a large error
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    torch.manual_seed(0)
    model = small_model(family).cuda().eval()
    ctx = torch.rand(2, 4, 1, 16, 16, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        eager = generate(model, ctx, 12, cuda_graph=False)
        graph = generate(model, ctx, 12, cuda_graph=True)
        default = generate(model, ctx, 12)  # the default on CUDA: graph
    tol = dict(rtol=2e-2, atol=2e-2) if amp else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(graph.float(), eager.float(), **tol)
    torch.testing.assert_close(default.float(), graph.float(), **tol)


def test_transformer_without_cache_equals_kv_cache():
    torch.manual_seed(0)
    model = small_model("frame_transformer").double().eval()
    ctx = torch.rand(2, 3, 1, 16, 16, dtype=torch.float64)
    cached = generate(model, ctx, 4)
    recomputed = generate_without_cache(model, ctx, 4)
    assert _rel(recomputed, cached) < 1e-10
