"""TimelineModel: the project's timeline kept in memory and shared by the track and the player.

At a thousand panels, reading the whole story from the database for every
finished render or inspector edit froze the window, and the track and the
player each did it. This model lays the timeline out from the session's shared
records (the story read once per structural change for every view, one panel
re-read per panel change) and the transitions, once per change for both. The layout itself is
always :func:`storyboard_app.project.timeline.layout`, the project's one
description of time, so nothing here can disagree with the exports.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.timeline import PanelClip, Timeline, layout
from storyboard_app.ui.project_session import ProjectSession


class TimelineModel(QObject):
    """The current :class:`Timeline`; ``changed`` says it must be read again."""

    changed = Signal()

    def __init__(self, session: ProjectSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._timeline: Timeline | None = None
        self._clips: dict[int, PanelClip] | None = None
        session.scenesChanged.connect(self.invalidate)
        session.settingsChanged.connect(self.invalidate)
        session.sceneChanged.connect(self._on_scene_changed)

    def timeline(self) -> Timeline:
        """The timeline as stored now, laid out at most once per change."""
        if self._timeline is None:
            self._timeline = self._read()
            self._clips = None
        return self._timeline

    def panel_clip(self, scene_id: int) -> PanelClip | None:
        """The clip of one panel (None if it is not in the story), looked up, not searched."""
        timeline = self.timeline()
        if self._clips is None:
            self._clips = {clip.scene_id: clip for clip in timeline.panels}
        return self._clips.get(scene_id)

    def reload(self) -> None:
        """The story changed without a signal: read it from the store again."""
        self._session.records.forget()
        self.invalidate()

    def invalidate(self) -> None:
        """Panels were added, removed or reordered (or settings changed): lay them out again."""
        self._timeline = None
        self.changed.emit()

    def _on_scene_changed(self, _scene_id: int) -> None:
        self._timeline = None
        self.changed.emit()

    def _read(self) -> Timeline:
        records = self._session.records
        scenes = records.scenes()
        media = {scene.id: records.active_media(scene) for scene in scenes}
        rate = records.settings().frame_rate
        return layout(rate, scenes, media, self._session.store.transitions.list())
