"""Adapters: batching logic with a fake backend; clear install hints; real packages if present."""

import sys

import numpy as np
import pytest
import torch

from worldssm.envs import TorchVectorEnv, make_world
from worldssm.envs.adapters import AdapterConfig, AdapterWorld, make_adapter


class FakeEnv:
    """A Gymnasium-style env whose frame encodes (seed, step)."""

    class action_space:  # noqa: N801 - mimics gymnasium's attribute
        n = 4

    def reset(self, seed=None):
        self.seed, self.t = seed, 0
        return self._obs(), {}

    def _obs(self):
        return np.full((8, 8, 3), (self.seed + self.t) % 256, np.uint8)

    def step(self, action):
        self.t += 1 + int(action)
        return self._obs(), float(action), self.t > 6, False, {}

    def close(self):
        pass


def test_adapter_world_batches_a_fake_backend():
    w = AdapterWorld(3, AdapterConfig(max_episode_steps=5), factory=FakeEnv)
    assert w.image_shape == (8, 8, 3) and len(w.actions) == 4
    w.reset(torch.arange(3), [10, 20, 30])
    assert w.render()[:, 0, 0, 0].tolist() == [10, 20, 30]
    r, term = w.step(torch.tensor([0, 1, 3]))
    assert r.tolist() == [0.0, 1.0, 3.0] and term.tolist() == [False, False, False]
    assert w.render()[:, 0, 0, 0].tolist() == [11, 22, 34]
    vec = TorchVectorEnv(w)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (3, 8, 8, 3) and obs.dtype == torch.uint8


@pytest.mark.parametrize("name,module", [("crafter", "crafter"), ("miniworld", "pyglet"),
                                         ("memory-maze", "gym")])  # fmt: skip
def test_missing_package_names_the_install(name, module, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install"):
        make_adapter(name)


def test_unknown_adapter():
    with pytest.raises(KeyError):
        make_adapter("doom")


def test_crafter_if_installed():
    pytest.importorskip("crafter")
    w = make_world("crafter", 2)
    w.reset(torch.arange(2), [0, 1])
    assert w.render().shape == (2, 64, 64, 3)
    w.step(torch.tensor([0, 1]))
