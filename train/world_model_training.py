"""Train a world model and an actor-critic in its imagination on a built-in env (DreamerV3 loop).

Each iteration: collect ``collect_steps`` vector steps with the current actor (uniformly random
until ``prefill`` env steps), then ``updates`` times: sample sequences from the replay, train the
world model (``model.loss``), start imagination from posterior states of those sequences
(``model.observe`` chunk by chunk, then ``model.imagine`` with the actor) and train the
actor-critic (:mod:`worldssm.train.actor_critic`).

Outputs in ``run.run_dir``: ``config.yaml``, ``checkpoint.pt`` (atomic; resumed automatically),
``replay/`` (chunks on disk), ``episodes.csv`` (env_step, return, length of every finished
episode), ``tb/`` (TensorBoard), and ``summary.json``.

Example::

    cfg = load_agent_config("configs/agent_multidoorskeys.yaml", {"model": {"name": "rssm"}})
    train_agent(cfg)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from worldssm.train.actor_critic import ActorCritic, ActorCriticConfig, AgentPolicy
from worldssm.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from worldssm.train.config import read_config_dict, typed_section
from worldssm.train.replay import EnvRunner, ReplayBuffer, plain_policy, to_model_batch


@dataclass
class EnvSection:
    name: str = "MultiDoorsKeys"
    num_envs: int = 8
    max_episode_steps: int | None = None  # None: the world's default
    options: dict = field(default_factory=dict)  # world config fields, e.g. {image_size: 64}


@dataclass
class ReplaySection:
    capacity: int = 200_000
    chunk_size: int = 256
    on_disk: bool = True  # chunks in run_dir/replay (resumable); False: memory only
    batch_size: int = 16
    seq_len: int = 64


@dataclass
class WorldModelOptim:
    lr: float = 3e-4
    weight_decay: float = 0.0
    grad_clip: float = 100.0


@dataclass
class AgentRun:
    env_steps: int = 100_000  # total env steps (all envs)
    prefill: int = 2_000  # env steps of random actions before training starts
    collect_steps: int = 8  # vector steps per iteration
    updates: int = 1  # gradient updates per iteration
    max_minutes: float | None = None
    run_dir: str = "runs/agent"
    seed: int = 0
    log_every: int = 20  # updates
    checkpoint_every: int = 200  # updates
    amp: bool = True  # bf16 autocast on GPU
    device: str = "auto"


SECTIONS = {"env": EnvSection, "replay": ReplaySection, "wm": WorldModelOptim,
            "ac": ActorCriticConfig, "run": AgentRun}  # fmt: skip


@dataclass
class AgentConfig:
    """``model`` is a registry name plus overrides; the other sections are typed."""

    model: dict = field(default_factory=lambda: {"name": "s4wm_tiny"})
    env: EnvSection = field(default_factory=EnvSection)
    replay: ReplaySection = field(default_factory=ReplaySection)
    wm: WorldModelOptim = field(default_factory=WorldModelOptim)
    ac: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    run: AgentRun = field(default_factory=AgentRun)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AgentConfig:
        unknown = sorted(set(d) - {"model", *SECTIONS})
        if unknown:
            raise ValueError(
                f"unknown agent config section(s) {unknown}; use model, {list(SECTIONS)}"
            )
        kw = {"model": dict(d.get("model") or {"name": "s4wm_tiny"})}
        if "name" not in kw["model"]:
            raise ValueError("config 'model' needs a 'name', e.g. s4wm_tiny or rssm")
        for name, sub in SECTIONS.items():
            kw[name] = typed_section(name, sub, d.get(name))
        return cls(**kw)


def load_agent_config(path: str | Path | None, overrides: dict | None = None) -> AgentConfig:
    """A YAML preset (defaults when None) with nested ``overrides`` ({section: {key: value}})."""
    missing = "agent config not found: {path} (see configs/agent_*.yaml)"
    return AgentConfig.from_dict(read_config_dict(path, overrides, missing))


def build_world_model(cfg: AgentConfig, num_actions: int, image_size: int, channels: int = 3):
    """The registry model with ``action_dim`` and frame size taken from the env.

    Overrides that the chosen family lacks (e.g. ``state_size`` for ``rssm``) are dropped with a
    warning, so one preset serves S4WM, RSSM and the Transformer (``--model`` swaps the family).
    """
    import warnings

    from worldssm.registry import create_model, model_config

    kw = dict(cfg.model)
    name = kw.pop("name")
    for key, want in (("action_dim", num_actions), ("image_size", image_size),
                      ("image_channels", channels)):  # fmt: skip
        if kw.get(key, want) != want:
            raise ValueError(f"model.{key}={kw[key]} does not match the env's {want}; drop it")
        kw[key] = want
    fields = {f.name for f in dataclasses.fields(model_config(name))}
    dropped = sorted(set(kw) - fields)
    if dropped:
        warnings.warn(f"{name} has no option(s) {dropped}; ignoring them", stacklevel=2)
    return create_model(name, **{k: v for k, v in kw.items() if k in fields})


def imagine_from_batch(model, ac: ActorCritic, batch: dict, chunks: int, horizon: int):
    """Imagined trajectories started from posterior states of a replayed batch (no gradients).

    ``chunks = 0``: from the state after every step (B·T starts, DreamerV3; the model's
    ``observe(return_states=True)``). ``chunks = k``: the batch (B, T) is observed in ``k``
    pieces and imagination starts from the state after each piece (k·B starts, one imagine call
    per piece, since state shapes may differ between pieces, e.g. a transformer's context).
    """
    policy = lambda f: ac.act(f.float())  # noqa: E731
    keys = ("feat", "action", "reward", "cont")
    with torch.no_grad():
        if chunks == 0:
            seq = [batch[k] for k in ("obs", "action", "is_first")]
            _, out = model.observe(None, *seq, decode=False, return_states=True)
            traj = model.imagine(out["states"], policy, horizon)
            return {k: traj[k].float() for k in keys}
        t = batch["obs"].shape[1]
        bounds = torch.linspace(0, t, chunks + 1).round().long().tolist()
        state, trajs = None, []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi <= lo:
                continue
            piece = [batch[k][:, lo:hi] for k in ("obs", "action", "is_first")]
            state, _ = model.observe(state, *piece, decode=False)
            trajs.append(model.imagine(state, policy, horizon))
    return {k: torch.cat([tr[k].float() for tr in trajs]) for k in keys}


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class EpisodeLog:
    """``episodes.csv`` of finished episodes; on resume rows past the checkpoint are dropped."""

    def __init__(self, path: Path, keep_until: int | None):
        self.path = path
        rows = []
        if path.is_file() and keep_until is not None:
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["env_step"]) <= keep_until]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, ["env_step", "return", "length"])
            w.writeheader()
            w.writerows(rows)
        self.returns = [float(r["return"]) for r in rows]

    def add(self, env_step: int, episodes: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for ep in episodes:
                w.writerow([env_step, ep["return"], ep["length"]])
                self.returns.append(ep["return"])


def _summary_writer(path: Path):
    """TensorBoard's writer, or a no-op one (with a warning) where tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        import warnings

        warnings.warn("tensorboard is not installed (pip install tensorboard): no TB logs; "
                      "episodes.csv and summary.json are still written", stacklevel=3)  # fmt: skip

        class _NoWriter:
            def add_scalar(self, *args, **kwargs): ...

            def close(self): ...

        return _NoWriter()
    return SummaryWriter(str(path))


def train_agent(cfg: AgentConfig, resume: bool = True, progress: bool = True) -> dict:
    """Train per ``cfg``; resumes from ``run_dir/checkpoint.pt`` when present and ``resume``.

    Returns ``{"env_steps", "updates", "episodes", "mean_return_last", "checkpoint"}``.
    """
    from tqdm.auto import tqdm

    from worldssm.envs import make_vector
    from worldssm.models import param_groups
    from worldssm.train.policies import RandomPolicy

    device = _device(cfg.run.device)
    torch.manual_seed(cfg.run.seed)
    run_dir = Path(cfg.run.run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    if not resume and ckpt_path.is_file():
        raise FileExistsError(f"{run_dir} holds a run; resume it or use another run.run_dir")
    ckpt = load_checkpoint(ckpt_path, device) if resume and ckpt_path.is_file() else None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    venv = make_vector(cfg.env.name, cfg.env.num_envs, device=device,
                       max_episode_steps=cfg.env.max_episode_steps, **cfg.env.options)  # fmt: skip
    h, w, c = venv.world.image_shape
    if h != w:
        raise ValueError(f"world models need square frames, {cfg.env.name} renders {h}x{w}")
    num_actions = len(venv.world.actions)
    model = build_world_model(cfg, num_actions, h, c).to(device)
    ac = ActorCritic(model.feat_dim, num_actions, cfg.ac).to(device)
    wm_opt = torch.optim.AdamW(param_groups(model, cfg.wm.weight_decay), lr=cfg.wm.lr, eps=1e-8)
    actor_opt, critic_opt = ac.optimizers()
    replay_dir = run_dir / "replay" if cfg.replay.on_disk else None
    replay = ReplayBuffer(cfg.env.num_envs, cfg.replay.capacity, cfg.replay.chunk_size,
                          replay_dir, seed=cfg.run.seed)  # fmt: skip
    env_steps = updates = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        ac.load_state_dict(ckpt["actor_critic"])
        for opt, key in ((wm_opt, "wm_opt"), (actor_opt, "actor_opt"), (critic_opt, "critic_opt")):
            opt.load_state_dict(ckpt[key])
        replay.load_state_dict(ckpt["replay"])
        set_rng_state(ckpt["rng"])
        env_steps, updates = ckpt["env_steps"], ckpt["updates"]
    # A resumed run starts fresh episodes (the env state is not saved): seed them apart.
    runner = EnvRunner(venv, replay, seed=cfg.run.seed * 1_000_003 + env_steps)
    log = EpisodeLog(run_dir / "episodes.csv", env_steps if ckpt is not None else None)
    writer = _summary_writer(run_dir / "tb")
    amp = cfg.run.amp and device.type == "cuda"
    random_policy = plain_policy(
        RandomPolicy(num_actions, [cfg.run.seed + env_steps + i for i in range(cfg.env.num_envs)])
    )
    agent_policy = AgentPolicy(model, ac, device, amp=amp)

    def save():
        replay.flush()
        save_checkpoint(ckpt_path, {
            "model": model.state_dict(), "actor_critic": ac.state_dict(),
            "wm_opt": wm_opt.state_dict(), "actor_opt": actor_opt.state_dict(),
            "critic_opt": critic_opt.state_dict(), "replay": replay.state_dict(),
            "rng": rng_state(), "env_steps": env_steps, "updates": updates, "step": updates,
            "config": cfg.to_dict(), "model_name": cfg.model["name"],
            "model_config": dataclasses.asdict(model.cfg),
        })  # fmt: skip

    bar = tqdm(total=cfg.run.env_steps, initial=env_steps, disable=not progress, unit="step",
               desc=f"agent {cfg.model['name']} {cfg.env.name}")  # fmt: skip
    t0, metrics = time.time(), {}
    while env_steps < cfg.run.env_steps:
        policy = random_policy if env_steps < cfg.run.prefill else agent_policy
        n = runner.collect(policy, cfg.run.collect_steps)
        env_steps += n
        bar.update(n)
        if runner.episodes:
            log.add(env_steps, runner.episodes)
            for ep in runner.episodes:
                writer.add_scalar("episode/return", ep["return"], env_steps)
                writer.add_scalar("episode/length", ep["length"], env_steps)
            runner.episodes.clear()
        if env_steps < cfg.run.prefill or not replay.can_sample(cfg.replay.seq_len):
            continue  # (a resumed in-memory replay refills first)
        for _ in range(cfg.run.updates):
            batch = to_model_batch(replay.sample(cfg.replay.batch_size, cfg.replay.seq_len), device)
            model.train()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, wm_metrics, _ = model.loss(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite world-model loss at update {updates}")
            wm_opt.zero_grad(set_to_none=True)
            loss.backward()
            wm_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.wm.grad_clip)
            wm_opt.step()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                traj = imagine_from_batch(model, ac, batch, cfg.ac.start_chunks, cfg.ac.horizon)
            actor_loss, critic_loss, ac_metrics = ac.loss(traj)
            actor_opt.zero_grad(set_to_none=True)
            critic_opt.zero_grad(set_to_none=True)
            (actor_loss + critic_loss).backward()
            torch.nn.utils.clip_grad_norm_(ac.actor.parameters(), cfg.ac.grad_clip)
            torch.nn.utils.clip_grad_norm_(ac.critic.parameters(), cfg.ac.grad_clip)
            actor_opt.step()
            critic_opt.step()
            ac.update_slow()
            updates += 1
            metrics = {"wm/loss": loss.item(), "wm/grad_norm": float(wm_norm),
                       **{f"wm/{k}": float(v) for k, v in wm_metrics.items()},
                       "ac/actor_loss": actor_loss.item(), "ac/critic_loss": critic_loss.item(),
                       **{f"ac/{k}": v for k, v in ac_metrics.items()}}  # fmt: skip
            if updates % cfg.run.log_every == 0:
                for k, v in metrics.items():
                    writer.add_scalar(k, v, env_steps)
                recent = log.returns[-20:]
                bar.set_postfix(wm=f"{loss.item():.3f}",
                                ret=f"{sum(recent) / max(1, len(recent)):.2f}")  # fmt: skip
            if cfg.run.checkpoint_every and updates % cfg.run.checkpoint_every == 0:
                save()
        if cfg.run.max_minutes and time.time() - t0 > 60 * cfg.run.max_minutes:
            break
    bar.close()
    save()
    writer.close()
    recent = log.returns[-20:]
    summary = {
        "env_steps": env_steps,
        "updates": updates,
        "episodes": len(log.returns),
        "mean_return_last": sum(recent) / len(recent) if recent else None,
        "checkpoint": str(ckpt_path),
        "last_metrics": metrics,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_agent(path: str | Path, device="cpu"):
    """``(model, actor_critic, config)`` from an agent checkpoint."""
    ckpt = load_checkpoint(path, device)
    cfg = AgentConfig.from_dict(ckpt["config"])
    from worldssm.registry import create_model

    mc = dict(ckpt["model_config"])
    model = create_model(ckpt["model_name"], **mc).to(device)
    model.load_state_dict(ckpt["model"])
    ac = ActorCritic(model.feat_dim, mc["action_dim"], cfg.ac).to(device)
    ac.load_state_dict(ckpt["actor_critic"])
    return model, ac, cfg


@torch.no_grad()
def evaluate_agent(checkpoint: str | Path, episodes: int = 16, seed: int = 12345,
                   device: str = "auto", greedy: bool = False) -> dict:  # fmt: skip
    """Mean return of the trained agent and of a uniformly random policy over ``episodes``
    episodes each (one per environment, the same episode seeds for both)."""
    from worldssm.envs import make_vector
    from worldssm.train.policies import RandomPolicy

    dev = _device(device)
    model, ac, cfg = load_agent(checkpoint, dev)
    model.eval()
    amp = cfg.run.amp and dev.type == "cuda"
    results = {}
    for name in ("agent", "random"):
        steps = cfg.env.max_episode_steps
        venv = make_vector(cfg.env.name, episodes, dev, steps, **cfg.env.options)
        if name == "agent":
            policy = AgentPolicy(model, ac, dev, greedy=greedy, amp=amp)
        else:
            policy = plain_policy(
                RandomPolicy(len(venv.world.actions), range(seed, seed + episodes))
            )
        runner = EnvRunner(venv, None, seed=seed)
        first: dict[int, float] = {}
        while len(first) < episodes:
            runner.collect(policy, 1)
            for ep in runner.episodes:
                first.setdefault(ep["env"], ep["return"])
            runner.episodes.clear()
        rets = torch.tensor(list(first.values()))
        std = rets.std().item() if episodes > 1 else 0.0
        results[name] = {"mean": rets.mean().item(), "std": std, "returns": rets.tolist()}
    return {"env": cfg.env.name, "model": cfg.model["name"], "episodes": episodes, **results}
