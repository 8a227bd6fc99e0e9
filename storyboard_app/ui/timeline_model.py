"""TimelineModel: the project's timeline kept in memory and shared by the track and the player.

At a thousand panels, reading the whole story from the database for every
finished render or inspector edit froze the window, and the track and the
player each did it. This model holds the story as the session's shared records
hold it (read once per structural change for every view), takes up only the
changed panel after a panel change (and the transitions only when one joins
it), and lays the timeline out once per change for both; when no panel's time
moved (a new picture, a caption) only the changed clips are made again, to what
the layout would give. Time is always laid out by
:func:`storyboard_app.project.timeline.layout`, the project's one description
of time, so nothing here can disagree with the exports (the tests compare the
two after every kind of change).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.records import SceneRecord, TransitionRecord
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
        self._scenes: list[SceneRecord] | None = None  # None: take them all from the records
        self._laid_out: Timeline | None = None  # the last layout, to restyle one clip of
        self._rows: dict[int, int] = {}
        self._media: dict[int, str | None] = {}
        self._transitions: list[TransitionRecord] | None = None
        self._touched: set[int] = set()
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
        self._scenes, self._transitions = None, None
        self._timeline = None
        self.changed.emit()

    def _on_scene_changed(self, scene_id: int) -> None:
        self._touched.add(scene_id)
        self._timeline = None
        self.changed.emit()

    def _read(self) -> Timeline:
        touched, self._touched = self._touched, set()
        scenes, laid_out = self._scenes, self._laid_out
        timed = scenes is None or self._take_up(scenes, touched)
        if scenes is None or timed is None:
            scenes, timed = self._take_all(), True
        transitions = self._transitions
        if transitions is None or any(
            t.from_scene_id in touched or t.to_scene_id in touched for t in transitions
        ):
            # A transition's status follows its panels' pictures: read only when one moved.
            with self._session.store.reading():
                self._transitions = transitions = self._session.store.transitions.list()
            timed = True
        if timed or laid_out is None:
            rate = self._session.records.settings().frame_rate
            self._laid_out = layout(rate, scenes, self._media, transitions)
        else:
            self._laid_out = self._restyled(laid_out, scenes, touched)
        return self._laid_out

    def _restyled(
        self, timeline: Timeline, scenes: list[SceneRecord], scene_ids: set[int]
    ) -> Timeline:
        """``timeline`` with the clips of ``scene_ids`` showing their panels' new picture,
        caption and camera move: what :func:`layout` gives when no panel's time moved."""
        panels = list(timeline.panels)
        for scene_id in scene_ids:
            row = self._rows[scene_id]
            scene = scenes[row]
            panels[row] = dataclasses.replace(
                panels[row],
                media=self._media.get(scene_id),
                caption=scene.caption,
                camera_move=scene.camera_move,
            )
        return dataclasses.replace(timeline, panels=tuple(panels))

    def _take_all(self) -> list[SceneRecord]:
        records = self._session.records
        self._scenes = scenes = records.scenes()
        self._rows = {scene.id: row for row, scene in enumerate(scenes)}
        self._media = {scene.id: records.active_media(scene) for scene in scenes}
        return scenes

    def _take_up(self, scenes: list[SceneRecord], scene_ids: set[int]) -> bool | None:
        """Take the changed panels from the records: None when one is gone, else whether
        a panel's time moved (its duration or place), so the story is laid out again."""
        records = self._session.records
        timed = False
        for scene_id in scene_ids:
            row, scene = self._rows.get(scene_id), records.scene(scene_id)
            if row is None or scene is None:
                return None
            old = scenes[row]
            timed = timed or (old.duration, old.position) != (scene.duration, scene.position)
            scenes[row] = scene
            self._media[scene_id] = records.active_media(scene)
        return timed
