"""Interpolation triplets: Vimeo90K layout, video folders, embedded synthetic data, curriculum."""

import numpy as np
import pytest
import torch
from PIL import Image

from worldssm.train.generate import write_mp4
from worldssm.train.interpolation import Curriculum
from worldssm.train.synthetic_triplets import (
    HELDOUT_IMAGES,
    EmbeddedTriplets,
    image_set,
    natural_image_paths,
)
from worldssm.train.triplets import VideoTriplets, VimeoTriplets, augment_triplet


def _vimeo(root, n=2, h=40, w=48):
    rng = np.random.default_rng(0)
    names = [f"0000{i + 1}/0001" for i in range(n)]
    for name in names:
        d = root / "sequences" / name
        d.mkdir(parents=True)
        for k in (1, 2, 3):
            arr = rng.integers(1, 255, (h, w, 3), dtype=np.uint8)
            Image.fromarray(arr).save(d / f"im{k}.png")
    (root / "tri_trainlist.txt").write_text("\n".join(names) + "\n")
    return names


def test_vimeo_layout_items_and_errors(tmp_path):
    names = _vimeo(tmp_path)
    data = VimeoTriplets(tmp_path, crop=32, seed=1)
    item = data[0]
    assert item["img0"].shape == item["gt"].shape == item["img1"].shape == (3, 32, 32)
    assert float(item["t"]) in (0.5,) and 0 <= item["gt"].min() and item["gt"].max() <= 1
    whole = VimeoTriplets(tmp_path, crop=None, augment=False)[1]
    im2 = np.array(Image.open(tmp_path / "sequences" / names[1] / "im2.png"))
    torch.testing.assert_close(whole["gt"], torch.from_numpy(im2).permute(2, 0, 1) / 255)
    with pytest.raises(FileNotFoundError, match="tri_testlist"):
        VimeoTriplets(tmp_path, split="test")
    (tmp_path / "sequences" / names[0] / "im2.png").unlink()
    with pytest.raises(FileNotFoundError, match="im2.png"):
        VimeoTriplets(tmp_path, crop=None, augment=False)[0]
    (tmp_path / "sequences" / names[0] / "im2.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="corrupt.*im2.png"):
        VimeoTriplets(tmp_path, crop=None, augment=False)[0]
    with pytest.raises(ValueError, match="smaller than the crop"):
        VimeoTriplets(tmp_path, crop=64, augment=True)[1]


def test_video_triplets_time_matches_gap_and_curriculum(tmp_path):
    # frame i is a flat grey of level 10 * i, so t can be read off the pixel values
    frames = np.stack([np.full((32, 32, 3), 10 * i + 20, np.uint8) for i in range(16)])
    write_mp4(tmp_path / "v" / "a.mp4", frames, fps=10)
    data = VideoTriplets(tmp_path / "v", crop=16, max_gap=8, augment=False, seed=3)
    gaps = []
    for i in range(12):
        it = data[i]
        a, g, b = (it[k].mean().item() * 255 for k in ("img0", "gt", "img1"))
        assert b > a + 15  # no reversal without augmentation; gap >= 2 frames
        assert abs((g - a) / (b - a) - it["t"].item()) < 0.08
        gaps.append(round((b - a) / 10))
    assert max(gaps) <= 8 and len(set(gaps)) > 1
    cur = VideoTriplets(tmp_path / "v", crop=16, max_gap=8, augment=False,
                        curriculum=Curriculum(steps=100, start=0.0), items_per_step=4)  # fmt: skip
    for i in range(4):  # step 0: the smallest motion, gap 2 and t = 0.5
        it = cur[i]
        assert it["t"].item() == 0.5
        assert round((it["img1"].mean() - it["img0"].mean()).item() * 255 / 10) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no video files"):
        VideoTriplets(tmp_path / "empty", crop=16)
    with pytest.raises(FileNotFoundError, match="video folder not found"):
        VideoTriplets(tmp_path / "missing", crop=16)


def test_augment_reversal_swaps_frames_and_time():
    frames = torch.stack([torch.full((3, 8, 8), v) for v in (0.1, 0.4, 0.9)])
    seen = set()
    for seed in range(16):
        out = augment_triplet(frames, 0.3, np.random.default_rng(seed), crop=4)
        assert out["img0"].shape == (3, 4, 4)
        if out["t"].item() == pytest.approx(0.7):
            assert out["img0"][0, 0, 0].item() == pytest.approx(0.9)
            seen.add("reversed")
        else:
            assert out["img0"][0, 0, 0].item() == pytest.approx(0.1) and out["t"] == 0.3
            seen.add("forward")
    assert seen == {"reversed", "forward"}


def test_embedded_data_deterministic_heldout_and_curriculum():
    names = natural_image_paths()
    assert "mpl:grace_hopper" in names
    train_imgs, held = set(image_set(False)), set(image_set(True))
    assert held and train_imgs and not (train_imgs & held)
    assert all(names[n] in held for n in HELDOUT_IMAGES if n in names)
    data = EmbeddedTriplets(crop=32, world_clips=2, clip_len=6, seed=5, max_motion=12)
    a, b = data[3], data[3]
    for k in ("img0", "gt", "img1", "t"):
        assert torch.equal(a[k], b[k])
    assert a["img0"].shape == (3, 32, 32) and 0 < a["t"].item() < 1
    assert not torch.equal(data[4]["img0"], a["img0"])
    # curriculum from zero motion: synthetic triplets at step 0 do not move, later ones do
    cur = EmbeddedTriplets(crop=32, world_clips=0, max_motion=20, items_per_step=2,
                           curriculum=Curriculum(steps=100, start=0.0))  # fmt: skip
    for i in range(2):
        it = cur[i]
        torch.testing.assert_close(it["img0"], it["img1"], atol=1e-5, rtol=0)
    moved = [(cur[i]["img0"] - cur[i]["img1"]).abs().max().item() for i in range(400, 406)]
    assert max(moved) > 0.05
    c = Curriculum(steps=10, start=0.5)
    assert c.max_gap(0, 8) == 5 and c.max_gap(10, 8) == 8 and c.max_gap(99, 8) == 8
    assert c.max_motion(0, 40) == 20 and Curriculum().max_motion(0, 40) == 40
