"""Replay buffer: sampling shapes, is_first at episode boundaries across chunks, disk round trip,
capacity, resume of the sampler, and the rollout runner on a real built-in env."""

import numpy as np
import pytest
import torch

from worldssm.train.replay import EnvRunner, ReplayBuffer, plain_policy, to_model_batch


def _fill(buf: ReplayBuffer, steps: int, ep_len: list[int], size: int = 4) -> None:
    """Synthetic streams: obs[..., 0] = step within the episode, obs[..., 1] = episode id."""
    s = buf.num_streams
    t_in = np.zeros(s, int)
    ep = np.arange(s) * 100
    for _ in range(steps):
        first = t_in == 0
        obs = np.zeros((s, size, size, 3), np.uint8)
        obs[..., 0] = t_in[:, None, None]
        obs[..., 1] = (ep % 256)[:, None, None]
        action = np.where(first, 0, 1 + (t_in % 2))
        buf.add({"obs": obs, "action": action, "reward": t_in.astype(np.float32),
                 "cont": np.ones(s, np.float32), "is_first": first})  # fmt: skip
        t_in += 1
        done = t_in >= np.array(ep_len)
        t_in[done] = 0
        ep[done] += 1


def _check_consistent(batch):
    """Inside a sequence, is_first (t > 0) is set exactly where the episode id changes."""
    idx, ep = batch["obs"][..., 0, 0, 0], batch["obs"][..., 0, 0, 1]
    first = batch["is_first"]
    changed = ep[:, 1:] != ep[:, :-1]
    np.testing.assert_array_equal(first[:, 1:], changed)
    assert (idx[:, 1:][~changed] == idx[:, :-1][~changed] + 1).all()  # consecutive steps
    assert (idx[:, 1:][changed] == 0).all()
    assert (batch["action"][first & (idx == 0)] == 0).all()


def test_sample_shapes_and_boundaries():
    buf = ReplayBuffer(num_streams=3, chunk_size=5, seed=1)
    _fill(buf, 40, ep_len=[7, 4, 11])
    assert len(buf) == 120
    batch = buf.sample(32, 12)
    assert batch["obs"].shape == (32, 12, 4, 4, 3) and batch["obs"].dtype == np.uint8
    for k in ("action", "reward", "cont", "is_first"):
        assert batch[k].shape == (32, 12)
    assert batch["is_first"][:, 0].all()  # mark_start
    _check_consistent(batch)
    assert batch["is_first"][:, 1:].any()  # sequences do cross episode boundaries
    raw = buf.sample(32, 12, mark_start=False)
    assert not raw["is_first"][:, 0].all()
    model_batch = to_model_batch(batch, "cpu")
    assert model_batch["obs"].shape == (32, 12, 3, 4, 4) and model_batch["obs"].max() <= 1.0
    assert model_batch["is_first"].dtype == torch.bool and model_batch["action"].dtype == torch.long


def test_sample_too_early_is_a_clear_error():
    buf = ReplayBuffer(num_streams=2, chunk_size=4)
    _fill(buf, 3, ep_len=[5, 5])
    assert buf.can_sample(3) and not buf.can_sample(4)
    with pytest.raises(ValueError, match="no sequence of 8 steps"):
        buf.sample(2, 8)
    with pytest.raises(KeyError, match="lacks"):
        buf.add({"obs": np.zeros((2, 4, 4, 3), np.uint8)})


def test_disk_round_trip_capacity_and_resume(tmp_path):
    d = tmp_path / "replay"
    buf = ReplayBuffer(num_streams=2, capacity=40, chunk_size=6, directory=d, seed=3)
    _fill(buf, 33, ep_len=[5, 9])
    buf.flush()  # 33 = 5 full chunks + 3 steps per stream
    assert buf.num_steps >= 40 and buf.num_steps - 6 < 40  # oldest chunks dropped
    files = sorted(p.name for p in (d / "chunks").glob("*.npz"))
    assert len(files) == len(buf.order) and "0-0.npz" not in files  # evicted files are deleted
    state = buf.state_dict()
    want = buf.sample(8, 10)

    again = ReplayBuffer(num_streams=2, capacity=40, chunk_size=6, directory=d, seed=99)
    assert again.num_steps == buf.num_steps and again.order == buf.order
    again.load_state_dict(state)
    got = again.sample(8, 10)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    _check_consistent(got)
    with pytest.raises(ValueError, match="2 streams, not 3"):
        ReplayBuffer(num_streams=3, directory=d)


def test_runner_records_streams_from_a_real_env():
    from worldssm.envs import make_vector
    from worldssm.train.policies import RandomPolicy

    venv = make_vector("MultiDoorsKeys", 2, max_episode_steps=5, image_size=32)
    buf = ReplayBuffer(num_streams=2, chunk_size=7)
    runner = EnvRunner(venv, buf, seed=0)
    assert runner.collect(plain_policy(RandomPolicy(3, [1, 2])), 17) == 34
    assert len(buf) == 2 * 18  # the reset frame plus 17 steps per stream
    stream = buf._read(0, 0, 18)
    # Episodes of 5 steps: a first frame every 6 steps, its action 0 and reward 0.
    np.testing.assert_array_equal(np.flatnonzero(stream["is_first"]), [0, 6, 12])
    assert (stream["action"][stream["is_first"]] == 0).all()
    assert (stream["reward"][stream["is_first"]] == 0).all()
    assert stream["obs"].shape == (18, 32, 32, 3)
    assert [e["length"] for e in runner.episodes] == [5] * 6
    assert {e["env"] for e in runner.episodes} == {0, 1}
