"""Replay of environment streams for world-model training, and the rollout loop that fills it.

Every environment of a vector env is one *stream* of steps in DreamerV3's convention: step ``t``
holds ``obs`` (H, W, 3) uint8, ``action`` (the action taken BEFORE obs ``t``, 0 where
``is_first``), ``reward`` and ``cont`` (1 - terminal) observed with obs ``t``, and ``is_first``
(episode start). Episodes follow each other inside a stream, so a sampled sequence may cross an
episode boundary; the world model resets its state where ``is_first`` is set.

A stream is stored as chunks of ``chunk_size`` steps. With a ``directory`` every finished chunk is
written as ``chunks/<stream>-<index>.npz`` (temporary name, then ``os.replace``) and listed in
``manifest.json`` (rewritten atomically), so a restarted run reloads the buffer. The oldest chunks
are dropped (and their files deleted) beyond ``capacity`` steps.

Example::

    replay = ReplayBuffer(num_streams=8, directory="runs/x/replay")
    runner = EnvRunner(make_vector("MultiDoorsKeys", 8), replay, seed=0)
    runner.collect(plain_policy(RandomPolicy(3, range(8))), steps=500)
    batch = replay.sample(16, 64)          # obs (16, 64, 64, 64, 3) uint8, is_first (16, 64) ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

KEYS = ("obs", "action", "reward", "cont", "is_first")
DTYPES = {"obs": np.uint8, "action": np.int64, "reward": np.float32, "cont": np.float32,
          "is_first": np.bool_}  # fmt: skip


class ReplayBuffer:
    """Chunked streams of steps, in memory and optionally mirrored on disk.

    Args:
        num_streams: parallel streams (one per environment of the vector env).
        capacity: most steps kept over all streams (oldest chunks dropped first).
        chunk_size: steps per stored chunk (and per file).
        directory: where chunks and ``manifest.json`` live; an existing buffer there is loaded.
        seed: seed of the sampling generator.
    """

    def __init__(self, num_streams: int, capacity: int = 100_000, chunk_size: int = 256,
                 directory: str | Path | None = None, seed: int = 0):  # fmt: skip
        if num_streams < 1 or capacity < 1 or chunk_size < 1:
            raise ValueError("num_streams, capacity and chunk_size must be >= 1")
        self.num_streams = num_streams
        self.capacity = capacity
        self.chunk_size = chunk_size
        self.directory = Path(directory) if directory is not None else None
        self.rng = np.random.default_rng(seed)
        self.chunks: dict[int, list[dict[str, np.ndarray]]] = {s: [] for s in range(num_streams)}
        self.order: list[
            tuple[int, int]
        ] = []  # (stream, chunk index) of stored chunks, oldest first
        self.next_index = [0] * num_streams  # index of a stream's next chunk (file names)
        self.open: list[dict[str, list]] = [self._empty() for _ in range(num_streams)]
        self.num_steps = 0  # steps in finished chunks
        if self.directory is not None and (self.directory / "manifest.json").is_file():
            self._load()

    # -- adding --------------------------------------------------------------------------------
    @staticmethod
    def _empty() -> dict[str, list]:
        return {k: [] for k in KEYS}

    def add(self, step: dict[str, torch.Tensor | np.ndarray]) -> None:
        """Append one step of every stream: each key of :data:`KEYS` with leading dim streams."""
        missing = [k for k in KEYS if k not in step]
        if missing:
            raise KeyError(f"replay step lacks {missing}; it needs {list(KEYS)}")
        arrays = {k: _numpy(step[k]) for k in KEYS}
        for k, a in arrays.items():
            if a.shape[0] != self.num_streams:
                raise ValueError(
                    f"{k} has {a.shape[0]} rows, the buffer {self.num_streams} streams"
                )
        for s in range(self.num_streams):
            for k in KEYS:
                self.open[s][k].append(arrays[k][s])
            if len(self.open[s]["obs"]) >= self.chunk_size:
                self._finish(s)

    def flush(self) -> None:
        """Finish every non-empty open chunk (before a checkpoint, so nothing is lost)."""
        for s in range(self.num_streams):
            if self.open[s]["obs"]:
                self._finish(s)

    def _finish(self, s: int) -> None:
        chunk = {k: np.asarray(np.stack(self.open[s][k]), DTYPES[k]) for k in KEYS}
        self.open[s] = self._empty()
        index = self.next_index[s]
        self.next_index[s] += 1
        if self.directory is not None:
            _atomic_npz(self.directory / "chunks" / f"{s}-{index}.npz", chunk)
        chunk["index"] = index
        self.chunks[s].append(chunk)
        self.order.append((s, index))
        self.num_steps += len(chunk["obs"])
        while self.num_steps - len(self.chunks[self.order[0][0]][0]["obs"]) >= self.capacity:
            self._drop_oldest()
        if self.directory is not None:
            self._write_manifest()

    def _drop_oldest(self) -> None:
        s, index = self.order.pop(0)
        chunk = self.chunks[s].pop(0)
        self.num_steps -= len(chunk["obs"])
        if self.directory is not None:
            (self.directory / "chunks" / f"{s}-{index}.npz").unlink(missing_ok=True)

    # -- sampling ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_steps + sum(len(o["obs"]) for o in self.open)

    def _stream_length(self, s: int) -> int:
        return sum(len(c["obs"]) for c in self.chunks[s]) + len(self.open[s]["obs"])

    def can_sample(self, seq_len: int) -> bool:
        """Whether some stream holds ``seq_len`` consecutive steps."""
        return any(self._stream_length(s) >= seq_len for s in range(self.num_streams))

    def sample(
        self, batch_size: int, seq_len: int, mark_start: bool = True
    ) -> dict[str, np.ndarray]:
        """``batch_size`` sequences of ``seq_len`` consecutive steps of one stream each.

        Start positions are uniform over all valid starts of all streams (open chunks included).
        With ``mark_start``, ``is_first[:, 0]`` is set: the model begins each sequence from its
        initial state, as at an episode start.

        Returns:
            obs (B, T, H, W, 3) uint8, action (B, T) int64, reward/cont (B, T) float32,
            is_first (B, T) bool (NumPy; see :func:`to_model_batch`).
        """
        lengths = np.array([self._stream_length(s) for s in range(self.num_streams)])
        starts = np.maximum(lengths - seq_len + 1, 0)
        if starts.sum() == 0:
            raise ValueError(
                f"replay holds no sequence of {seq_len} steps yet (longest stream: "
                f"{lengths.max()} steps); collect more steps or lower seq_len"
            )
        picks = self.rng.integers(int(starts.sum()), size=batch_size)
        cum = np.cumsum(starts)
        seqs = []
        for p in picks:
            s = int(np.searchsorted(cum, p, side="right"))
            offset = int(p - (cum[s] - starts[s]))
            seqs.append(self._read(s, offset, seq_len))
        batch = {k: np.stack([q[k] for q in seqs]) for k in KEYS}
        if mark_start:
            batch["is_first"][:, 0] = True
        return batch

    def _read(self, s: int, start: int, length: int) -> dict[str, np.ndarray]:
        parts: dict[str, list] = {k: [] for k in KEYS}
        pos, need = 0, length
        sources = [c for c in self.chunks[s]] + [self.open[s]]
        for src in sources:
            n = len(src["obs"])
            if start < pos + n and need > 0:
                lo = max(start - pos, 0)
                hi = min(n, lo + need)
                for k in KEYS:
                    seg = src[k][lo:hi]
                    parts[k].append(np.asarray(seg, DTYPES[k]) if isinstance(seg, list) else seg)
                need -= hi - lo
            pos += n
        return {k: np.concatenate([np.asarray(p) for p in parts[k]]) for k in KEYS}

    # -- disk ----------------------------------------------------------------------------------
    def _write_manifest(self) -> None:
        manifest = {
            "num_streams": self.num_streams,
            "chunk_size": self.chunk_size,
            "next_index": self.next_index,
            "chunks": [{"stream": s, "index": i} for s, i in self.order],
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".manifest.tmp-{os.getpid()}.json"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, self.directory / "manifest.json")

    def _load(self) -> None:
        manifest = json.loads((self.directory / "manifest.json").read_text())
        if manifest["num_streams"] != self.num_streams:
            raise ValueError(
                f"{self.directory} holds a replay of {manifest['num_streams']} streams, not "
                f"{self.num_streams}; use the same number of environments or another directory"
            )
        self.next_index = list(manifest["next_index"])
        for entry in manifest["chunks"]:
            s, index = entry["stream"], entry["index"]
            with np.load(self.directory / "chunks" / f"{s}-{index}.npz") as f:
                chunk = {k: f[k] for k in KEYS}
            chunk["index"] = index
            self.chunks[s].append(chunk)
            self.order.append((s, index))
            self.num_steps += len(chunk["obs"])
        while self.order and self.num_steps - len(self.chunks[self.order[0][0]][0]["obs"]) >= (
            self.capacity
        ):
            self._drop_oldest()

    def state_dict(self) -> dict:
        """The sampler's RNG (the data itself is on disk or rebuilt by collecting)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def to_model_batch(batch: dict[str, np.ndarray], device) -> dict[str, torch.Tensor]:
    """A sampled batch as the world model wants it: obs (B, T, 3, H, W) float in [0, 1] on
    ``device`` (converted there, so only uint8 crosses the bus), action long, reward/cont float,
    is_first bool."""
    obs = torch.as_tensor(batch["obs"]).to(device, non_blocking=True)
    return {
        "obs": obs.permute(0, 1, 4, 2, 3).float().div_(255.0),
        "action": torch.as_tensor(batch["action"]).to(device).long(),
        "reward": torch.as_tensor(batch["reward"]).to(device).float(),
        "cont": torch.as_tensor(batch["cont"]).to(device).float(),
        "is_first": torch.as_tensor(batch["is_first"]).to(device).bool(),
    }


# -- rollouts ------------------------------------------------------------------------------------
# A runner policy: policy(obs (B, H, W, 3) uint8, is_first (B,) bool, state) -> (action (B,), state)
RunnerPolicy = Callable[[torch.Tensor, torch.Tensor, Any], tuple[torch.Tensor, Any]]


def plain_policy(policy) -> RunnerPolicy:
    """Adapt a :mod:`worldssm.train.policies` policy ``(obs, state)`` to the runner's signature."""
    return lambda obs, is_first, state: policy(obs, state)


class EnvRunner:
    """Steps a :class:`~worldssm.envs.TorchVectorEnv` (``NEXT_STEP`` autoreset) with a policy and
    feeds every step to a :class:`ReplayBuffer` (or to nothing when ``replay`` is None).

    With ``NEXT_STEP`` autoreset the step after an episode's end returns the next episode's first
    frame, which is exactly a stream step with ``is_first`` set. Finished episodes' returns and
    lengths are appended to ``self.episodes`` as ``{"return", "length", "env"}`` dicts.
    """

    def __init__(self, venv, replay: ReplayBuffer | None, seed: int = 0):
        from gymnasium.vector import AutoresetMode

        if venv.autoreset_mode != AutoresetMode.NEXT_STEP:
            raise ValueError(f"EnvRunner needs NEXT_STEP autoreset, got {venv.autoreset_mode}")
        self.venv, self.replay = venv, replay
        obs, _ = venv.reset(seed=seed)
        b = venv.num_envs
        self.obs = obs
        self.is_first = torch.ones(b, dtype=torch.bool)
        self.done = torch.zeros(b, dtype=torch.bool)  # the last step ended the episode
        self.policy_state: Any = None
        self._policy: RunnerPolicy | None = None
        self.ep_return = torch.zeros(b)
        self.ep_length = torch.zeros(b, dtype=torch.long)
        self.episodes: list[dict] = []
        zeros = torch.zeros(b)
        self._record(obs, torch.zeros(b, dtype=torch.long), zeros, zeros + 1, self.is_first)

    def _record(self, obs, action, reward, cont, is_first) -> None:
        if self.replay is not None:
            step = {"obs": obs, "action": action, "reward": reward, "cont": cont}
            self.replay.add({**step, "is_first": is_first})

    def collect(self, policy: RunnerPolicy, steps: int) -> int:
        """Run ``steps`` vector steps; returns the number of env steps (``steps * num_envs``)."""
        if policy is not self._policy:  # a new policy starts from its own initial state
            self._policy, self.policy_state = policy, None
        for _ in range(steps):
            action, self.policy_state = policy(self.obs, self.is_first, self.policy_state)
            action = torch.as_tensor(action).long().reshape(-1).cpu()
            obs, reward, term, trunc, _ = self.venv.step(action)
            reward, term, trunc = reward.cpu(), term.cpu(), trunc.cpu()
            first = self.done  # NEXT_STEP: after an episode's end comes the next one's first frame
            action = torch.where(first, 0, action)
            self.ep_return += reward
            self.ep_length += (~first).long()
            done = term | trunc
            for i in done.nonzero().flatten().tolist():
                self.episodes.append(
                    {"return": float(self.ep_return[i]), "length": int(self.ep_length[i]), "env": i}
                )
            self.ep_return[done | first] = 0.0
            self.ep_length[first] = 0
            self._record(obs, action, reward, (~term).float(), first)
            self.obs, self.is_first, self.done = obs, first, done
        return steps * self.venv.num_envs


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
