"""Transition fixtures: the tiny motion model (built once per module that asks for it)."""

from __future__ import annotations

import numpy as np
import pytest

from storyboard_app.engine.transitions.motion_model import MotionModel
from storyboard_app.engine.transitions.tiny_motion import build_tiny_motion_model


@pytest.fixture(scope="module")
def tiny_motion_model() -> MotionModel:
    """The tiny motion model with seed 0. Read-only: build your own to change weights."""
    return build_tiny_motion_model(seed=0)


@pytest.fixture(scope="module")
def panels() -> tuple[np.ndarray, np.ndarray]:
    """Two different 64x64 RGB panels."""
    rng = np.random.default_rng(0)
    return (
        rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
        rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
    )
