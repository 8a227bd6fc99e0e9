"""TimelineModel: the project's timeline kept in memory and shared by the track and the player.

At a thousand panels, reading the whole story from the database for every
finished render or inspector edit froze the window, and the track and the
player each did it. This model reads the story once (a fixed number of
queries whatever its length) and then follows the session's change signals:
a change to one panel re-reads that panel, its picture and the transitions,
and lays the timeline out again from what it holds. The layout itself is
always :func:`storyboard_app.project.timeline.layout`, the project's one
description of time, so nothing here can disagree with the exports.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import SceneRecord
from storyboard_app.project.timeline import PanelClip, Timeline, layout
from storyboard_app.ui.project_session import ProjectSession


class TimelineModel(QObject):
    """The current :class:`Timeline`; ``changed`` says it must be read again."""

    changed = Signal()

    def __init__(self, session: ProjectSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._scenes: list[SceneRecord] = []
        self._media: dict[int, str | None] = {}
        self._timeline: Timeline | None = None
        self._clips: dict[int, PanelClip] | None = None
        self._stale_scenes: set[int] = set()
        self._reload_all = True
        session.scenesChanged.connect(self.invalidate)
        session.settingsChanged.connect(self.invalidate)
        session.sceneChanged.connect(self._on_scene_changed)

    def timeline(self) -> Timeline:
        """The timeline as stored now, read at most once per change."""
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

    def invalidate(self) -> None:
        """Panels were added, removed or reordered (or settings changed): read them all."""
        self._reload_all = True
        self._timeline = None
        self.changed.emit()

    def _on_scene_changed(self, scene_id: int) -> None:
        self._stale_scenes.add(scene_id)
        self._timeline = None
        self.changed.emit()

    def _read(self) -> Timeline:
        store = self._session.store
        if self._reload_all or not self._refresh_scenes():
            self._scenes = store.scenes.list()
            self._media = dict(store.takes.active_media())
        self._reload_all = False
        self._stale_scenes.clear()
        rate = store.settings().frame_rate
        return layout(rate, self._scenes, self._media, store.transitions.list())

    def _refresh_scenes(self) -> bool:
        """Re-read only the panels that changed; False when one is gone (read them all)."""
        index = {scene.id: number for number, scene in enumerate(self._scenes)}
        store = self._session.store
        try:
            for scene_id in sorted(self._stale_scenes):
                if scene_id not in index:
                    return False
                scene = store.scenes.get(scene_id)
                self._scenes[index[scene_id]] = scene
                take_id = scene.active_take_id
                self._media[scene_id] = None if take_id is None else store.takes.get(take_id).media
        except StoryboardError:
            return False
        return True
