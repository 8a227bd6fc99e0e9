"""The animatic's frames for a project: options shared by the MP4 and the PNG sequence."""

from __future__ import annotations

from dataclasses import dataclass

from storyboard_app.export.frames import FrameStyle, TimelineFrames, check_frame_size
from storyboard_app.export.timeline_source import default_frame_size, project_timeline
from storyboard_app.project.store import ProjectStore


@dataclass(frozen=True)
class FrameOptions:
    """Frame size and rate (``None``: 720 lines at the panels' aspect, the project's rate),
    and what is burnt in."""

    size: tuple[int, int] | None = None
    frame_rate: int | None = None
    captions: bool = False
    panel_numbers: bool = False

    def __post_init__(self) -> None:
        if self.size is not None:
            check_frame_size(self.size)

    @property
    def style(self) -> FrameStyle:
        return FrameStyle(captions=self.captions, panel_numbers=self.panel_numbers)


def animatic_frames(store: ProjectStore, options: FrameOptions | None = None) -> TimelineFrames:
    """The project's timeline as frames; the app's preview player can read these too."""
    options = options or FrameOptions()
    timeline = project_timeline(store, options.frame_rate)
    size = options.size or default_frame_size(store.settings())
    return TimelineFrames(timeline, store.media, size, options.style)
