"""PNG sequence and per-panel images: every frame in order, every panel at its resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TOTAL_FRAMES
from PIL import Image

from storyboard_app.export import (
    ExportCancelledError,
    FrameOptions,
    OutputPathError,
    export_frames,
    export_panel_images,
)
from storyboard_app.project.store import ProjectStore


def test_frames_folder_holds_every_frame_in_order(board: ProjectStore, tmp_path: Path) -> None:
    result = export_frames(board, tmp_path / "frames", FrameOptions(size=(40, 30)))
    names = sorted(p.name for p in result.path.iterdir())
    assert result.count == len(names) == TOTAL_FRAMES
    assert names[0] == "frame_000000.png" and names[-1] == f"frame_{TOTAL_FRAMES - 1:06d}.png"
    with Image.open(result.path / names[0]) as first:
        assert first.size == (40, 30) and first.mode == "RGB"
        assert first.getpixel((20, 15))[0] > 200


def test_an_existing_empty_folder_may_receive_frames(board: ProjectStore, tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    result = export_frames(board, tmp_path / "frames", FrameOptions(size=(16, 16)))
    assert result.count == TOTAL_FRAMES


def test_a_folder_with_files_is_never_overwritten(board: ProjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match="not empty"):
        export_frames(board, folder)
    assert (folder / "mine.txt").read_text() == "keep me"


def test_cancelled_frames_leave_no_folder(board: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(ExportCancelledError):
        export_frames(
            board, tmp_path / "frames", FrameOptions(size=(16, 16)), is_cancelled=lambda: True
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.storyboard"]


def test_panel_images_are_the_takes_themselves(board: ProjectStore, tmp_path: Path) -> None:
    result = export_panel_images(board, tmp_path / "panels")
    names = sorted(p.name for p in result.path.iterdir())
    assert names == ["panel_001.png", "panel_002.jpg", "panel_003.png", "panel_004.png"]
    first = board.takes.active_image(board.scenes.at(1).id)
    assert (result.path / "panel_001.png").read_bytes() == first
    with Image.open(result.path / "panel_003.png") as placeholder:
        assert placeholder.size == (96, 72)
