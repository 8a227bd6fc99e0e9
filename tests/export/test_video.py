"""MP4 animatic read back with PyAV: codec, pixel format, frame count and duration to the frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TOTAL_FRAMES

from storyboard_app.export import (
    ExportCancelledError,
    ExportOptionsError,
    VideoOptions,
    export_mp4,
    preview_first_frame,
)
from storyboard_app.export.timeline_source import project_timeline
from storyboard_app.project.store import ProjectStore

SMALL = (64, 48)


def probe(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.width, stream.height),
            "rate": stream.average_rate,
            "header_frames": stream.frames,
            "duration": stream.duration * stream.time_base,
            "frames": frames,
        }


def test_mp4_is_h264_yuv420p_exactly_as_long_as_the_timeline(
    board: ProjectStore, tmp_path: Path
) -> None:
    result = export_mp4(board, tmp_path / "animatic.mp4", VideoOptions(size=SMALL))
    info = probe(result.path)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["size"] == SMALL
    assert info["rate"] == 24
    assert len(info["frames"]) == info["header_frames"] == TOTAL_FRAMES == result.count
    assert info["duration"] == Fraction(TOTAL_FRAMES, 24)


def test_frame_rate_override_lays_the_timeline_out_again(
    board: ProjectStore, tmp_path: Path
) -> None:
    result = export_mp4(board, tmp_path / "a.mp4", VideoOptions(size=SMALL, frame_rate=12))
    info = probe(result.path)
    assert info["rate"] == 12
    assert len(info["frames"]) == project_timeline(board, 12).total_frames == 21
    assert info["duration"] == Fraction(21, 12)


def test_frames_show_panels_transitions_and_placeholders_in_order(
    board: ProjectStore, tmp_path: Path
) -> None:
    frames = probe(export_mp4(board, tmp_path / "a.mp4", VideoOptions(size=SMALL)).path)["frames"]
    centre = [frame[24, 32].astype(int) for frame in frames]
    assert_close(centre[0], (220, 30, 30))
    assert_close(centre[20], (30, 30, 220))
    assert_close(centre[41], (30, 200, 30))
    fade = centre[12]
    assert 60 < fade[0] < 190 and 60 < fade[2] < 190
    placeholder = centre[25]
    assert abs(placeholder[0] - placeholder[1]) < 12 and abs(placeholder[1] - placeholder[2]) < 12
    assert_close(centre[27], (250, 250, 0))


def test_default_size_is_720_lines_at_the_panels_aspect(board: ProjectStore) -> None:
    assert preview_first_frame(board).size == (960, 720)
    assert preview_first_frame(board, VideoOptions(size=(320, 240))).size == (320, 240)


def test_cancel_midway_leaves_no_partial_file(board: ProjectStore, tmp_path: Path) -> None:
    seen = []

    def cancel_after_ten() -> bool:
        return len(seen) >= 10

    with pytest.raises(ExportCancelledError, match="after 10 of 42 frames"):
        export_mp4(
            board, tmp_path / "a.mp4", VideoOptions(size=SMALL), seen.append, cancel_after_ten
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.storyboard"]


def test_video_options_are_checked() -> None:
    with pytest.raises(ExportOptionsError, match="even width and height"):
        VideoOptions(size=(65, 48))
    with pytest.raises(ExportOptionsError, match="out of range"):
        VideoOptions(size=(8, 8))
    with pytest.raises(ExportOptionsError, match="Quality 80"):
        VideoOptions(quality=80)
    with pytest.raises(ExportOptionsError, match="not an x264 preset"):
        VideoOptions(preset="instant")


def test_an_out_of_range_frame_rate_is_refused(board: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(ExportOptionsError, match="1000 fps"):
        export_mp4(board, tmp_path / "a.mp4", VideoOptions(frame_rate=1000))


def assert_close(pixel: np.ndarray, expected: tuple[int, int, int], tolerance: int = 12) -> None:
    assert np.abs(pixel - np.array(expected)).max() <= tolerance, (pixel, expected)
