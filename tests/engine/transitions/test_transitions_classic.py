"""Crossfade and flow morph: a textured square moving left to right lands in the middle."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from storyboard_app.engine.transitions.classic import (
    FlowMorph,
    MorphOptions,
    crossfade,
    crossfade_frames,
    morph_frames,
    resize_to,
    transition_times,
)
from storyboard_app.engine.transitions.errors import TransitionCancelled, TransitionInputError

HEIGHT, WIDTH, SIDE, TOP = 144, 256, 40, 52
START_X, END_X = 40, 80  # the square moves by its own width
# Bounds for the morph's square (measured: centroid within 0.4 px, area within 3.1%).
MAX_CENTROID_ERROR = 2.0
AREA_TOLERANCE = 0.1


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = (rng.random((HEIGHT, WIDTH, 3)) * 80 + 30).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2)


@pytest.fixture(scope="module")
def square_texture() -> np.ndarray:
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(
        (rng.random((SIDE, SIDE, 3)) * 120 + 120).astype(np.uint8), (0, 0), 1.5
    )
    texture[..., 2] = 40
    return texture


def scene(background: np.ndarray, texture: np.ndarray, left: float) -> np.ndarray:
    """The background with the square's left edge at ``left`` (whole pixels)."""
    image = background.copy()
    x = round(left)
    image[TOP : TOP + SIDE, x : x + SIDE] = texture
    return image


def square_mask(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.abs(frame.astype(int) - background.astype(int)).sum(axis=2) > 90


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


@pytest.mark.parametrize("t", [0.25, 0.5, 0.75])
def test_morph_moves_the_square_along_its_path(
    background: np.ndarray, square_texture: np.ndarray, t: float
) -> None:
    start = scene(background, square_texture, START_X)
    end = scene(background, square_texture, END_X)
    frame = FlowMorph(start, end).frame(t)
    mask = square_mask(frame, background)
    expected_x = START_X + t * (END_X - START_X) + (SIDE - 1) / 2
    error = abs(centroid_x(mask) - expected_x)
    assert error <= MAX_CENTROID_ERROR, f"centroid off by {error:.2f} px at t={t}"
    assert abs(mask.sum() / SIDE**2 - 1) <= AREA_TOLERANCE

    truth = scene(background, square_texture, START_X + t * (END_X - START_X))
    morph_error = np.abs(frame.astype(int) - truth).mean()
    fade_error = np.abs(crossfade(start, end, t).astype(int) - truth).mean()
    assert morph_error < 0.5 * fade_error


def test_morph_follows_a_camera_pan(background: np.ndarray) -> None:
    shifted = np.roll(background, 12, axis=1)
    middle = FlowMorph(background, shifted).frame(0.5)
    truth = np.roll(background, 6, axis=1)
    inner = (slice(8, -8), slice(24, -24))
    morph_error = np.abs(middle[inner].astype(int) - truth[inner]).mean()
    fade_error = np.abs(
        crossfade(background, shifted, 0.5)[inner].astype(int) - truth[inner]
    ).mean()
    assert morph_error < 0.5 * fade_error


def test_morph_ends_at_the_panels(background: np.ndarray, square_texture: np.ndarray) -> None:
    start = scene(background, square_texture, START_X)
    end = scene(background, square_texture, END_X)
    morph = FlowMorph(start, end)
    assert np.abs(morph.frame(0.0).astype(int) - start).mean() < 1.0
    assert np.abs(morph.frame(1.0).astype(int) - end).mean() < 1.0


def test_frame_lists_exclude_the_panels_and_stop_on_cancel(background: np.ndarray) -> None:
    end = np.roll(background, 4, axis=1)
    assert np.allclose(transition_times(3), [0.25, 0.5, 0.75])
    fades = crossfade_frames(background, end, 3)
    assert len(fades) == 3 and np.array_equal(fades[1], crossfade(background, end, 0.5))
    done: list[int] = []
    frames = morph_frames(background, end, 4, on_frame=lambda i, n: done.append(i))
    assert len(frames) == 4 and done == [1, 2, 3, 4] and frames[0].shape == background.shape
    with pytest.raises(TransitionCancelled):
        morph_frames(
            background,
            end,
            4,
            on_frame=lambda i, n: done.append(i),
            is_cancelled=lambda: len(done) == 6,
        )
    assert done[4:] == [1, 2]


def test_morph_works_on_a_grid_smaller_than_the_panels(background: np.ndarray) -> None:
    large = resize_to(background, (1024, 576))
    shifted = np.roll(large, 16, axis=1)
    morph = FlowMorph(large, shifted, MorphOptions(work_size=256))
    assert morph.work_shape == (144, 256)
    assert morph.frame(0.5).shape == (576, 1024, 3)


def test_bad_inputs_are_explained(background: np.ndarray) -> None:
    with pytest.raises(TransitionInputError, match="differ in size"):
        FlowMorph(background, background[:100])
    with pytest.raises(TransitionInputError, match="not an RGB image"):
        crossfade(background[..., 0], background[..., 0], 0.5)
    with pytest.raises(TransitionInputError, match="preset"):
        MorphOptions(preset="slow")
