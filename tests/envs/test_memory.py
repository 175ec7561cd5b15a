"""S4WM-style memory tasks: rewards, terminations and what makes memory necessary."""

import pytest
import torch

from worldssm.envs import make_world


def _run_expert(world, steps):
    ret = torch.zeros(world.num_envs)
    done = torch.zeros(world.num_envs, dtype=torch.bool)
    for _ in range(steps):
        r, term = world.step(world.expert_action())
        ret += r * ~done
        done |= term
    return ret, done


def test_four_rooms_expert_finds_apple():
    w = make_world("FourRooms3D", 4)
    w.reset(torch.arange(4), [0, 1, 2, 3])
    ret, done = _run_expert(w, 200)
    assert done.all() and (ret == 1).all()
    # Four distinct floors, one per room.
    floors = w.scene.floor[0][~w.solid[0]].unique()
    assert len(floors) >= 4


@pytest.mark.parametrize("length,width", [(6, 1), (14, 2)])
def test_distracting_memory_expert_and_cue(length, width):
    w = make_world("DistractingMemory", 3, hallway_length=length, hallway_width=width)
    w.reset(torch.arange(3), [5, 6, 7])
    g = w.grid_size
    assert g >= length + 9
    for i in range(3):  # the correct arm has the cue room's floor, the wrong arm does not
        right, wrong = w.current_goal()[i], w.wrong[i]
        cue = w.scene.floor[i, g // 2, 2]
        assert w.scene.floor[i, right[0], right[1]] == cue
        assert w.scene.floor[i, wrong[0], wrong[1]] != cue
    ret, done = _run_expert(w, 250)
    assert done.all() and (ret == 1).all()


def test_distracting_memory_wrong_room_penalised():
    w = make_world("DistractingMemory", 1, hallway_length=4)
    w.reset(torch.tensor([0]), [3])
    wy, wx = w.wrong[0].tolist()
    w.pos[0] = torch.tensor([wx + 0.5, wy + 0.5])
    w.angle[0] = 0.0
    reward, term = w.step(torch.tensor([0]))  # a turn: stays in the wrong cell
    assert term.item() and reward.item() == -1.0


@pytest.mark.parametrize("keys", [1, 3])
def test_multi_doors_keys_expert(keys):
    w = make_world("MultiDoorsKeys", 2, num_keys=keys)
    w.reset(torch.arange(2), [0, 1])
    ret, done = _run_expert(w, 150 + 120 * keys)
    assert done.all() and (ret == 2 * keys + 1).all()  # keys + doors + apple


def test_doors_stay_locked_without_keys():
    w = make_world("MultiDoorsKeys", 1, num_keys=1)
    w.reset(torch.tensor([0]), [2])
    dy, dx = w.door_cells[0, 0].tolist()
    w.pos[0] = torch.tensor([dx - 0.5, dy + 0.5])  # just west of the door, facing it
    w.angle[0] = 0.0
    for _ in range(3):
        w.step(torch.tensor([2]))
    assert w.solid[0, dy, dx] and not w.door_open.any()
    w.keys_held[0] = 1
    r, _ = w.step(torch.tensor([2]))
    assert not w.solid[0, dy, dx] and w.door_open.all() and r.item() == 1.0
