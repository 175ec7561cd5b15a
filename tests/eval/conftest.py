"""Fixtures for the evaluation tests: real-looking frames and the real AlexNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).parent / "data"


def load_png(name: str) -> torch.Tensor:
    """A test image as uint8 ``(1, 3, H, W)``."""
    from PIL import Image

    return torch.from_numpy(np.array(Image.open(DATA / f"{name}.png").convert("RGB"))).permute(
        2, 0, 1
    )[None]


@pytest.fixture
def lpips_images() -> dict[str, torch.Tensor]:
    return {n: load_png(n) for n in ("ex_ref", "ex_p0", "ex_p1")}


@pytest.fixture
def alexnet_weights() -> Path:
    """The real AlexNet weights; skipped when absent locally, a failure when absent in CI."""
    from worldssm.eval.weights import WeightsNotFoundError, find_alexnet_weights

    try:
        return find_alexnet_weights()
    except WeightsNotFoundError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must prepare the LPIPS weights before the tests:\n{err}")
        pytest.skip(
            "real AlexNet weights absent (not in CI): run "
            "`python -m worldssm.eval.weights prepare-lpips` to run this test"
        )
