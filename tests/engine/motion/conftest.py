"""Motion fixtures: small synthetic videos, written once per session, and a tiny encoder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from storyboard_app.engine.motion.encoder import ClipImageEncoder, build_tiny_image_encoder

VIDEO_SIZE = (64, 48)
VIDEO_FRAMES = 32
VIDEO_COUNT = 10


def write_arc_video(path: Path, rng: np.random.Generator) -> Path:
    """A ball crossing the frame along a parabola, its colour, start and speed drawn from ``rng``.

    Every video follows the same kind of curved path, so what the predictor
    learns on some videos also holds on the held-out ones.
    """
    width, height = VIDEO_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12, VIDEO_SIZE)
    colour = tuple(int(c) for c in rng.integers(120, 255, 3))
    background = tuple(int(c) for c in rng.integers(0, 60, 3))
    start, speed = rng.uniform(4, 16), rng.uniform(1.2, 1.8)
    for frame_index in range(VIDEO_FRAMES):
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = background
        x = (start + speed * frame_index) % width
        y = 40 - 32 * ((x - 32) / 32) ** 2
        cv2.circle(frame, (int(x), int(y)), 9, colour, -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten short synthetic videos (MJPG .avi). Read-only."""
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for index in range(VIDEO_COUNT):
        write_arc_video(folder / f"arc_{index}.avi", rng)
    return folder


@pytest.fixture(scope="session")
def tiny_encoder() -> ClipImageEncoder:
    return build_tiny_image_encoder(seed=0)
