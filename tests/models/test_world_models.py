"""World models (S4WM, RSSM, Transformer SSM): parallel observe == stepping (across episode
boundaries and chunks), ELBO gradients, imagination shapes, latents, presets and input errors."""

import dataclasses

import pytest
import torch

import worldssm
from worldssm.models import param_groups
from worldssm.models.world_model import WorldModelState
from worldssm.registry import model_config

FAMILIES = ["s4wm", "rssm", "transformer_wm"]
SMALL = dict(image_size=16, enc_channels=(4, 8), d_model=16, hidden=16, stoch=4, classes=4)
EXTRA = {"s4wm": dict(state_size=8), "transformer_wm": dict(heads=2, window=4)}
A = 3  # actions


def small_model(family: str, **kw):
    torch.manual_seed(0)
    return worldssm.create_model(
        f"{family}_tiny", **{**SMALL, **EXTRA.get(family, {}), "action_dim": A, **kw}
    )


def make_batch(b=2, t=7, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[0, 3] = True  # an episode boundary in the middle of row 0
    return {
        "obs": torch.rand(b, t, 3, 16, 16, generator=g, dtype=dtype),
        "action": torch.randint(0, A, (b, t), generator=g),
        "reward": torch.randn(b, t, generator=g, dtype=dtype),
        "cont": (torch.rand(b, t, generator=g) > 0.2).to(dtype),
        "is_first": is_first,
    }


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def _observe(model, batch, state=None, sl=slice(None)):
    return model.observe(
        state, batch["obs"][:, sl], batch["action"][:, sl], batch["is_first"][:, sl], sample=False
    )


@pytest.mark.parametrize("latent", ["gaussian", "categorical"])
@pytest.mark.parametrize("family", FAMILIES)
def test_observe_parallel_equals_stepping(family, latent):
    model = small_model(family, latent=latent).double().eval()
    batch = make_batch(dtype=torch.float64)
    t = batch["obs"].shape[1]
    with torch.no_grad():
        last, out = _observe(model, batch)
        # one step at a time, the state carried between chunks of length 1
        state, feats = None, []
        for i in range(t):
            state, o = _observe(model, batch, state, slice(i, i + 1))
            feats.append(o["feat"])
        assert _rel(torch.cat(feats, 1), out["feat"]) < 1e-10
        assert _rel(state.feat, last.feat) < 1e-10
        # two chunks == one pass (the second starts mid-episode in row 1, at a reset in row 0)
        s1, o1 = _observe(model, batch, None, slice(0, 3))
        s2, o2 = _observe(model, batch, s1, slice(3, None))
        assert _rel(torch.cat([o1["feat"], o2["feat"]], 1), out["feat"]) < 1e-10
        for key in out["prior"]:
            both = torch.cat([o1["prior"][key], o2["prior"][key]], 1)
            assert _rel(both, out["prior"][key]) < 1e-10
        # the reset at t=3 forgets everything before: == a fresh model state on frames 3..
        _, fresh = model.observe(
            None, batch["obs"][:1, 3:], batch["action"][:1, 3:], batch["is_first"][:1, 3:], False
        )
        assert _rel(out["feat"][:1, 3:], fresh["feat"]) < 1e-10
        assert _rel(out["feat"][1:, 3:], fresh["feat"]) > 1e-3  # row 1 continues: differs
        # imagination: the prior step from the state after t=3 gives h and prior at t=4
        s4, _ = _observe(model, batch, None, slice(0, 4))
        _, st = model.step(s4, batch["action"][:, 4], sample=False)
        assert _rel(st["h"], out["h"][:, 4]) < 1e-10
        for key in st["prior"]:
            assert _rel(st["prior"][key], out["prior"][key][:, 4]) < 1e-10


@pytest.mark.parametrize("family", FAMILIES)
def test_states_of_every_step_continue_the_sequence(family):
    model = small_model(family).double().eval()
    batch = make_batch(dtype=torch.float64)
    b, t = batch["action"].shape
    with torch.no_grad():
        s0, _ = _observe(model, batch, None, slice(0, 2))  # start mid-stream: non-empty state
        _, out = model.observe(
            s0,
            batch["obs"][:, 2:],
            batch["action"][:, 2:],
            batch["is_first"][:, 2:],
            False,
            return_states=True,
        )
        states = out["states"]
        assert states.h.shape == (b * (t - 2), model.cfg.d_model)
        assert _rel(states.feat.view(b, t - 2, -1), out["feat"]) < 1e-12
        # one prior step from every per-step state gives h of the next step of the sequence
        nxt = torch.cat([batch["action"][:, 3:], batch["action"][:, :1]], 1).flatten()
        _, st = model.step(states, nxt, sample=False)
        h_next = st["h"].view(b, t - 2, -1)[:, :-1]
        cont = ~batch["is_first"][:, 3:]  # a reset at t+1 is not a continuation
        assert cont.sum() > 0 and _rel(h_next[cont], out["h"][:, 1:][cont]) < 1e-10
        assert _rel(h_next[~cont], out["h"][:, 1:][~cont]) > 1e-3


@pytest.mark.parametrize("latent", ["gaussian", "categorical"])
@pytest.mark.parametrize("family", FAMILIES)
def test_loss_finite_and_every_parameter_gets_a_gradient(family, latent):
    model = small_model(family, latent=latent, free_nats=0.0)  # free nats would stop KL grads
    batch = make_batch()
    loss, metrics, state = model.loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert set(metrics) >= {"loss", "recon", "reward", "cont", "kl"}
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics["kl"] > 0 and abs(metrics["loss"] - loss.item()) < 1e-4
    assert isinstance(state, WorldModelState) and not state.h.requires_grad
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    # the state continues training on the next chunk
    loss2, _, _ = model.loss(make_batch(seed=2), state)
    assert torch.isfinite(loss2)


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_autocast_train_and_imagine(family):
    model = small_model(family, latent="categorical")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, metrics, state = model.loss(make_batch())
        loss.backward()
        traj = model.imagine(state, lambda f: torch.ones(2, dtype=torch.long), horizon=2)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    # a state made under autocast continues without it (and the reverse)
    traj = model.imagine(traj["state"], lambda f: torch.ones(2, dtype=torch.long), horizon=2)
    assert torch.isfinite(traj["feat"]).all()


def test_free_nats_and_balance():
    model = small_model("s4wm", free_nats=1e6, kl_balance=0.8)
    _, metrics, _ = model.loss(make_batch())
    assert abs(metrics["kl_loss"] - 1e6) < 1  # clamped to the free nats on every step


@pytest.mark.parametrize("family", FAMILIES)
def test_imagine_and_decode_shapes(family):
    model = small_model(family, latent="categorical")
    batch = make_batch()
    state, out = model.observe(None, batch["obs"], batch["action"], batch["is_first"])
    assert out["feat"].shape == (2, 7, model.feat_dim)
    assert out["recon"].shape == batch["obs"].shape

    def policy(feat):
        assert feat.shape == (2, model.feat_dim)
        action = torch.randint(0, A, (feat.shape[0],))
        return action, {"logp": feat.sum(-1)}

    traj = model.imagine(state, policy, horizon=5)
    assert traj["feat"].shape == (2, 6, model.feat_dim)
    assert torch.equal(traj["feat"][:, 0], state.feat)
    assert traj["action"].shape == traj["reward"].shape == traj["cont"].shape == (2, 5)
    assert traj["extra"]["logp"].shape == (2, 5)
    assert ((traj["cont"] >= 0) & (traj["cont"] <= 1)).all()
    frames = model.decode(traj["feat"])
    assert frames.shape == (2, 6, 3, 16, 16) and frames.min() >= 0 and frames.max() <= 1
    assert model.decode(out).shape == batch["obs"].shape
    traj = model.imagine(state, lambda f: torch.zeros(2, dtype=torch.long), horizon=2)
    assert traj["feat"].shape == (2, 3, model.feat_dim) and "extra" not in traj
    # categorical z is one-hot per group in the forward value
    z = traj["feat"][:, 1:, model.cfg.d_model :].reshape(2, 2, 4, 4)
    assert torch.equal(z.sum(-1), torch.ones(2, 2, 4))


def test_presets_and_param_groups():
    names = worldssm.list_models()
    for family in FAMILIES:
        assert family in names and f"{family}_tiny" in names
    cfg = model_config("s4wm")
    assert (cfg.image_size, cfg.image_channels, cfg.free_nats, cfg.kl_balance) == (64, 3, 1.0, 0.8)
    model = small_model("s4wm")
    rebuilt = worldssm.create_model("s4wm_tiny", **dataclasses.asdict(model.cfg))
    assert rebuilt.cfg == model.cfg
    groups = {g["name"]: g for g in param_groups(model, weight_decay=0.1)}
    ssm = {id(p) for p in groups["ssm"]["params"]}
    layer = model.blocks[0].ssm1.ssm
    assert all(id(getattr(layer, n)) in ssm for n in layer.ssm_param_names)
    assert groups["ssm"]["weight_decay"] == 0.0


def test_clear_errors():
    model = small_model("s4wm")
    b = make_batch()
    obs, act, first = b["obs"], b["action"], b["is_first"]
    with pytest.raises(ValueError, match="obs must be"):
        model.observe(None, obs[:, :, :1], act, first)
    with pytest.raises(TypeError, match="float"):
        model.observe(None, (obs * 255).to(torch.uint8), act, first)
    with pytest.raises(ValueError, match="action must be"):
        model.observe(None, obs, act[:, :-1], first)
    with pytest.raises(TypeError, match="integer"):
        model.observe(None, obs, act.float(), first)
    with pytest.raises(ValueError, match=r"actions must be in \[0, 3\)"):
        model.observe(None, obs, act + 3, first)
    with pytest.raises(TypeError, match="is_first must be bool"):
        model.observe(None, obs, act, first.long())
    with pytest.raises(KeyError, match="lacks"):
        model.loss({"obs": obs, "action": act, "is_first": first})
    with pytest.raises(ValueError, match="reward must be"):
        model.loss({**b, "reward": b["reward"][:, :2]})
    with pytest.raises(ValueError, match="state must be a WorldModelState of batch 2"):
        model.observe(model.initial(3), obs, act, first)
    state = model.initial(2)
    with pytest.raises(ValueError, match="step: action"):
        model.step(state, act)
    with pytest.raises(ValueError, match="decode"):
        model.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="latent"):
        small_model("rssm", latent="beta")
    with pytest.raises(ValueError, match="divisible"):
        small_model("rssm", image_size=15)
    with pytest.raises(ValueError, match="heads"):
        small_model("transformer_wm", heads=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (Triton scan path)")
def test_s4wm_triton_observe_equals_stepping_on_gpu():
    model = small_model("s4wm").cuda().eval()  # gaussian: no argmax ties to flip in float32
    batch = {k: v.cuda() for k, v in make_batch(t=33).items()}
    with torch.no_grad():
        last, out = _observe(model, batch)
        state, feats = None, []
        for i in range(batch["obs"].shape[1]):
            state, o = _observe(model, batch, state, slice(i, i + 1))
            feats.append(o["feat"])
    assert _rel(torch.cat(feats, 1), out["feat"]) < 1e-3
    assert _rel(state.feat, last.feat) < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("family", FAMILIES)
def test_full_size_preset_trains_and_imagines_on_gpu(family):
    """The paper-size presets (64x64 RGB): a bf16 training step on (16, 64) and 64 imagined
    steps, with finite numbers."""
    torch.manual_seed(0)
    model = worldssm.create_model(family).cuda()
    b, t = 16, 64
    batch = {
        "obs": torch.rand(b, t, 3, 64, 64, device="cuda"),
        "action": torch.randint(0, model.cfg.action_dim, (b, t), device="cuda"),
        "reward": torch.randn(b, t, device="cuda"),
        "cont": torch.ones(b, t, device="cuda"),
        "is_first": torch.rand(b, t, device="cuda") < 0.05,
    }
    opt = torch.optim.AdamW(param_groups(model, weight_decay=0.0), lr=1e-4)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss, metrics, state = model.loss(batch)
    loss.backward()
    opt.step()
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values()), metrics
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        a = torch.zeros(b, dtype=torch.long, device="cuda")
        traj = model.imagine(state, lambda f: a, horizon=64)
        frames = model.decode(traj["feat"][:, -1])
    assert torch.isfinite(traj["feat"]).all() and frames.shape == (b, 3, 64, 64)
