"""The project's timeline at the frame rate an export asks for, and a default video size."""

from __future__ import annotations

from storyboard_app.export.errors import ExportOptionsError, NothingToExportError
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import Timeline, build_timeline

DEFAULT_VIDEO_HEIGHT = 720
MAX_FRAME_RATE = 120


def project_timeline(store: ProjectStore, frame_rate: int | None = None) -> Timeline:
    """The frame-exact timeline, laid out again when ``frame_rate`` overrides the project's.

    Every export that places panels in time goes through here, so the MP4, the
    image sequence and the editorial timelines agree to the frame.
    """
    if frame_rate is not None and not 1 <= frame_rate <= MAX_FRAME_RATE:
        raise ExportOptionsError(
            f"A frame rate of {frame_rate} fps is out of range.",
            f"Use 1 to {MAX_FRAME_RATE} frames per second, e.g. 24.",
        )
    timeline = build_timeline(store, frame_rate)
    if not timeline.panels:
        raise NothingToExportError(
            f"The project {store.name!r} has no panels to export.",
            "Add panels first (storyboard add-scene, or the app's + button).",
        )
    return timeline


def default_frame_size(settings: ProjectSettings) -> tuple[int, int]:
    """720 lines at the panels' aspect ratio, both sides even as H.264 in yuv420p needs."""
    height = DEFAULT_VIDEO_HEIGHT
    panel_width, panel_height = settings.render_size()
    width = round(height * panel_width / panel_height / 2) * 2
    return width, height
