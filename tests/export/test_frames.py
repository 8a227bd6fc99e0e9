"""TimelineFrames: the frame generator the MP4, the PNG sequence and the app's player share."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import RED, TOTAL_FRAMES, image_bytes
from PIL import Image

from storyboard_app.export import FrameStyle, TimelineFrames
from storyboard_app.export.panel_picture import PanelPicture
from storyboard_app.project.camera import Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import build_timeline

SIZE = (80, 60)


def frames_of(store: ProjectStore, style: FrameStyle | None = None) -> TimelineFrames:
    return TimelineFrames(build_timeline(store), store.media, SIZE, style)


def test_frames_have_the_output_size_and_cover_the_timeline(board: ProjectStore) -> None:
    frames = frames_of(board)
    assert len(frames) == TOTAL_FRAMES and frames.frame_rate == 24
    first = frames.frame(0)
    assert first.shape == (60, 80, 3) and first.dtype == np.uint8
    with pytest.raises(IndexError):
        frames.frame(TOTAL_FRAMES)


def test_a_wider_picture_gets_black_bars(store: ProjectStore) -> None:
    scene = store.scenes.add("[NC] a wide view")
    store.takes.add(scene.id, image_bytes(RED, (160, 40)), TakeParams(width=160, height=40))
    frame = TimelineFrames(build_timeline(store), store.media, (80, 80)).frame(0)
    assert frame[0, 40].tolist() == [0, 0, 0] and frame[79, 40].tolist() == [0, 0, 0]
    assert frame[40, 40].tolist() == list(RED)


def test_crossfade_blends_evenly_between_the_two_panels(board: ProjectStore) -> None:
    frames = frames_of(board)
    before, after = frames.frame(8)[30, 40].astype(int), frames.frame(15)[30, 40].astype(int)
    fade = [frames.frame(i)[30, 40].astype(int) for i in range(9, 15)]
    reds = [pixel[0] for pixel in fade]
    assert reds == sorted(reds, reverse=True)
    assert before[0] > reds[0] and reds[-1] > after[0]
    middle = (fade[2] + fade[3]) / 2
    assert np.abs(middle - (before + after) / 2).max() < 12


def test_camera_move_zooms_into_the_panel() -> None:
    checker = np.indices((64, 64)).sum(axis=0) % 2 * 255
    picture = PanelPicture(np.dstack([checker] * 3).astype(np.uint8), (64, 64), 2.0)
    wide, close = picture.render(Framing()), picture.render(Framing(zoom=2.0))
    assert wide.tobytes() != close.tobytes()
    assert wide.std() > 100
    quarter = picture.render(Framing(0.0, 0.0, 2.0))
    assert quarter[0, 0].tolist() == wide[0, 0].tolist()


def test_camera_move_changes_frames_over_the_panel(board: ProjectStore) -> None:
    checker = np.indices((48, 64)).sum(axis=0) // 4 % 2 * 255
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([checker] * 3).astype(np.uint8)).save(buffer, "PNG")
    first = board.scenes.at(1)
    board.takes.add(first.id, buffer.getvalue(), TakeParams(width=64, height=48))
    frames = frames_of(board)
    assert frames.frame(0).tobytes() != frames.frame(8).tobytes()
    assert frames.frame(5).tobytes() != frames.frame(6).tobytes()


def test_generated_transition_frames_are_played_resampled(board: ProjectStore) -> None:
    frames = frames_of(board)
    colours = [tuple(frames.frame(i)[30, 40]) for i in range(27, 33)]
    assert colours == [(250, 250, 0)] * 2 + [(0, 250, 250)] * 2 + [(250, 0, 250)] * 2


def test_unrendered_panels_show_a_placeholder(board: ProjectStore) -> None:
    placeholder = frames_of(board).frame(25)
    assert placeholder.std() > 5
    assert np.abs(placeholder.mean(axis=(0, 1)) - 225).max() < 30


def test_captions_and_numbers_are_burnt_in(board: ProjectStore) -> None:
    plain = frames_of(board).frame(20)
    styled = frames_of(board, FrameStyle(captions=True, panel_numbers=True)).frame(20)
    assert not np.array_equal(plain[-5:], styled[-5:])
    assert not np.array_equal(plain[:8, :8], styled[:8, :8])
    assert np.array_equal(plain[22:28, 30:], styled[22:28, 30:])


def test_frames_can_be_read_in_any_order(board: ProjectStore) -> None:
    frames = frames_of(board)
    forwards = [frames.frame(i) for i in range(TOTAL_FRAMES)]
    backwards = [frames_of(board).frame(i) for i in reversed(range(TOTAL_FRAMES))][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(forwards, backwards, strict=True))
