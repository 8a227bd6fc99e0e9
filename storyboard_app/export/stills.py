"""Image exports: the animatic as a PNG sequence, and one image per panel.

Both fill a temporary folder that becomes the output folder only when every
file is written, so a cancelled export leaves no partial sequence behind.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from storyboard_app.export.animatic import FrameOptions, animatic_frames
from storyboard_app.export.output import atomic_folder, check_output_folder
from storyboard_app.export.pictures import placeholder_image, png_bytes
from storyboard_app.export.progress import (
    CancelCheck,
    ProgressCallback,
    Steps,
    never_cancelled,
    no_progress,
)
from storyboard_app.export.result import ExportResult
from storyboard_app.export.story import ExportPanel, Story, collect_story
from storyboard_app.project.media import MediaStore
from storyboard_app.project.store import ProjectStore

FRAME_NAME = "frame_{:06d}.png"
# zlib level 1: a fifth of the time of the default level for files a few percent larger.
PNG_COMPRESSION = 1


def export_frames(
    store: ProjectStore,
    folder: Path | str,
    options: FrameOptions | None = None,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Every animatic frame as ``frame_000000.png``, numbered by timeline frame from 0."""
    target = check_output_folder(folder)
    frames = animatic_frames(store, options)
    steps = Steps("PNG sequence", len(frames), "frames", on_progress, is_cancelled)
    steps.check_cancel()
    with atomic_folder(target) as temp:
        for index in range(len(frames)):
            bgr = cv2.cvtColor(frames.frame(index), cv2.COLOR_RGB2BGR)
            path = temp / FRAME_NAME.format(index)
            if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]):
                raise OSError(f"could not write {path.name}")
            steps.advance()
    return ExportResult(target, len(frames), "frames")


def export_panel_images(
    store: ProjectStore,
    folder: Path | str,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Each panel's active image as ``panel_001.png`` (its own bytes, at its resolution)."""
    target = check_output_folder(folder)
    story = collect_story(store)
    steps = Steps("panel images", len(story.panels), "images", on_progress, is_cancelled)
    steps.check_cancel()
    with atomic_folder(target) as temp:
        write_panel_images(story, store.media, temp, steps)
    return ExportResult(target, len(story.panels), "images")


def write_panel_images(story: Story, media: MediaStore, folder: Path, steps: Steps) -> list[Path]:
    """Write every panel's picture into ``folder``; returns the files in story order."""
    paths = []
    for panel in story.panels:
        name, data = panel_file(story, panel, media)
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
        steps.advance()
    return paths


def panel_file_name(story: Story, panel: ExportPanel) -> str:
    """``panel_007.png``: the panel's media extension, or png for a placeholder."""
    extension = panel.media.rsplit(".", 1)[1] if panel.media else "png"
    return f"{panel_stem(panel.number, len(story.panels))}.{extension}"


def panel_file(story: Story, panel: ExportPanel, media: MediaStore) -> tuple[str, bytes]:
    """The file name and bytes of a panel's picture: its media file, or a placeholder PNG."""
    name = panel_file_name(story, panel)
    if panel.media is not None:
        return name, media.read_bytes(panel.media)
    return name, png_bytes(placeholder_image(story.frame_size, panel.label, panel.problem))


def panel_stem(number: int, count: int) -> str:
    """``panel_007``: zero-padded so that file browsers sort panels in story order."""
    return f"panel_{number:0{max(3, len(str(count)))}d}"
