"""The timeline dock: the preview player beside the track, with zoom and camera actions.

The dock outlives projects but its contents do not: opening another project
replaces the panel, so no player keeps reading a closed project's store.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QProgressBar,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.camera_dialog import edit_camera_move
from storyboard_app.ui.preview_player import PreviewPlayer
from storyboard_app.ui.timeline_model import TimelineModel
from storyboard_app.ui.timeline_view import SCENE_HEIGHT, TimelineView
from storyboard_app.ui.workspace import ProjectWorkspace

# Named, not imported: the job module imports the engine (and torch), which the UI
# must not pull in at start-up; it is loaded the first time a transition is asked for.
TRANSITION_JOB = "storyboard_app.worker.transition_jobs:TransitionJob"
DEFAULT_TRANSITION_KIND = "morph"
PLAYER_CONTROLS_WIDTH = 420
# What "Generate transition" can make: the store's kind names and how artists read them.
TRANSITION_CHOICES = (
    ("morph", "Morph (optical flow)"),
    ("crossfade", "Crossfade"),
    ("motion", "Motion (video model)"),
)


def transition_job(store: Any, from_id: int, to_id: int, kind: str, parent: QObject) -> Any:
    """A TransitionJob for two neighbouring panels; raises StoryboardError when refused."""
    module_name, _, class_name = TRANSITION_JOB.partition(":")
    job_class = getattr(importlib.import_module(module_name), class_name)
    return job_class(store, from_id, to_id, kind, parent=parent)


class TransitionProgress(QWidget):
    """A running transition's progress bar and Cancel button; the toolbar hides it when idle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.cancel = QToolButton(text="Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)

    def show_progress(self, step: int, steps: int) -> None:
        self.bar.setRange(0, max(steps, 1))
        self.bar.setValue(step)


class TimelinePanel(QWidget):
    """Player and track of one open project, kept in step with each other and with the
    storyboard: playing moves the playhead (the track follows it), clicking the ruler
    seeks, and the storyboard's selection is the track's (selecting either one selects
    the other and moves the preview to the panel)."""

    def __init__(self, workspace: ProjectWorkspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.timeline = TimelineModel(workspace.session, self)
        self.player = PreviewPlayer(workspace.session, model=self.timeline)
        self.track = TimelineView(
            workspace.session, model=self.timeline, thumbnails=workspace.thumbnails
        )
        self.toolbar = QToolBar()
        self.toolbar.setIconSize(QSize(16, 16))
        self.toolbar.addWidget(self.player.controls)
        self.player.controls.setMaximumWidth(PLAYER_CONTROLS_WIDTH)
        self.toolbar.addSeparator()
        self.zoom_in = self._action("Zoom in", QKeySequence.StandardKey.ZoomIn, self.track.zoom_in)
        self.zoom_out = self._action(
            "Zoom out", QKeySequence.StandardKey.ZoomOut, self.track.zoom_out
        )
        self.camera = self._action("Camera move…", None, self.edit_camera)
        self.kind_box = QComboBox()
        for kind, label in TRANSITION_CHOICES:
            self.kind_box.addItem(label, kind)
        self.toolbar.addWidget(self.kind_box)
        self.generate = self._action(
            "Generate transition", None, lambda: self.generate_transition()
        )
        self.progress = TransitionProgress()
        self.progress_action = self.toolbar.addWidget(self.progress)
        self.progress_action.setVisible(False)
        self.job: Any = None
        self.play_pause = self._key("Play / pause", "Space", self.player.toggle_play)
        self.shuttle_back = self._key("Play backward (again: faster)", "J", self._shuttle_back)
        self.stop = self._key("Stop", "K", self.player.pause)
        self.shuttle_on = self._key("Play forward (again: faster)", "L", self._shuttle_on)
        self._aspect = self.player.frame_aspect()
        self.player.frameChanged.connect(self.track.set_frame)
        self.track.clipActivated.connect(self._edit_camera_of)
        self.track.frameRequested.connect(self.player.seek)
        self.track.clipsSelected.connect(self._select_in_storyboard)
        workspace.session.settingsChanged.connect(self._on_settings_changed)
        selection = workspace.storyboard.selectionModel()
        selection.selectionChanged.connect(self._follow_storyboard)
        self._lay_out()
        self._follow_storyboard()

    def playback_actions(self) -> list[QAction]:
        """The window-wide playback keys, for the Playback menu to list."""
        return [self.play_pause, self.shuttle_back, self.stop, self.shuttle_on]

    def sizeHint(self) -> QSize:
        """Compact: the toolbar over one track; the preview is as tall as the track."""
        toolbar = self.toolbar.sizeHint().height()
        scrollbar = self.track.horizontalScrollBar().sizeHint().height()
        return QSize(800, toolbar + int(SCENE_HEIGHT) + scrollbar + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_preview()

    def show_panel(self, scene_id: int) -> None:
        """Move the preview to a panel (unless it is already on it, or playing) and show
        its clip."""
        clip = self.timeline.panel_clip(scene_id)
        if clip is None:
            return
        self.track.show_clip(scene_id)
        playing_it = clip.start_frame <= self.player.frame < clip.end_frame
        if not self.player.is_playing() and not playing_it:
            self.player.seek(clip.start_frame)

    def current_scene_id(self) -> int | None:
        selected = self.track.selected_scene_ids()
        return selected[0] if selected else self.workspace.storyboard.current_scene_id()

    def edit_camera(self) -> None:
        scene_id = self.current_scene_id()
        if scene_id is not None:
            self._edit_camera_of(scene_id)

    def cancel_job(self) -> None:
        """Stop a running transition: the project it was for is going away."""
        if self.job is not None:
            self.job.cancel()

    def neighbour_pair(self) -> tuple[int, int] | None:
        """The two selected panels when they are next to each other, in story order."""
        ids = self.track.selected_scene_ids() or self.workspace.selected_scene_ids()
        order = [clip.scene_id for clip in self.timeline.timeline().panels]
        if len(ids) != 2 or not set(ids) <= set(order):
            return None
        first, second = sorted(ids, key=order.index)
        return (first, second) if order.index(second) == order.index(first) + 1 else None

    def generate_transition(self, kind: str | None = None) -> Any:
        """Start a transition between the selected neighbours; the job, or None if refused.

        ``kind`` defaults to the one chosen beside the button.
        """
        kind = kind or str(self.kind_box.currentData() or DEFAULT_TRANSITION_KIND)
        pair = self.neighbour_pair()
        session = self.workspace.session
        if pair is None:
            session.report(
                StoryboardError(
                    "Select two neighbouring panels to join with a transition.",
                    "Click one panel, then Ctrl+click the next one.",
                )
            )
            return None
        if self.job is not None:
            return None
        try:
            self.job = transition_job(session.store, pair[0], pair[1], kind, self)
        except StoryboardError as exc:
            session.report(exc)
            return None
        self._follow(self.job)
        self.job.start()
        return self.job

    def _follow(self, job: Any) -> None:
        self.progress.show_progress(0, 0)
        self.progress_action.setVisible(True)
        self.generate.setEnabled(False)
        job.progressed.connect(self.progress.show_progress)
        self.progress.cancel.clicked.connect(job.cancel)
        job.finished.connect(self._job_ended)
        job.failed.connect(self._job_ended)
        job.cancelled.connect(self._job_ended)
        job.failed.connect(self.workspace.session.report)

    def _job_ended(self, *_outcome: object) -> None:
        """Show the stored frames (or the unchanged project) and make room for another job."""
        self.progress.cancel.clicked.disconnect()
        self.progress_action.setVisible(False)
        self.generate.setEnabled(True)
        self.job = None
        self.workspace.session.changed(scenes=True)

    def _edit_camera_of(self, scene_id: int) -> None:
        edit_camera_move(self.workspace.session, scene_id, self, self.workspace.thumbnails)

    def _action(self, text: str, keys: QKeySequence.StandardKey | None, slot: object) -> QAction:
        action = self.toolbar.addAction(text)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    def _key(self, text: str, key: str, slot: Callable[[], None]) -> QAction:
        """A playback key for the whole window, as in editors: Space, J, K, L. A text field
        with the focus still types the letter (it takes the key before any shortcut)."""
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _shuttle_back(self) -> None:
        self.player.shuttle_backward()

    def _shuttle_on(self) -> None:
        self.player.shuttle_forward()

    def _select_in_storyboard(self, scene_ids: list[int]) -> None:
        """Clips clicked: the storyboard selects them, and its selection comes back here."""
        self.workspace.storyboard.select_scenes(scene_ids)

    def _follow_storyboard(self, *_changes: object) -> None:
        """The one place selection crosses over: the storyboard's selection is the track's,
        and the preview moves to its current panel."""
        ids = self.workspace.selected_scene_ids()
        self.track.select_scenes(ids)
        current = self.workspace.storyboard.current_scene_id()
        target = current if current in ids else (ids[0] if ids else None)
        if target is not None:
            self.show_panel(target)

    def _on_settings_changed(self) -> None:
        self._aspect = self.player.frame_aspect()
        self._fit_preview()

    def _fit_preview(self) -> None:
        """The preview as wide as its height allows at the frames' aspect (at most half the
        dock), so a taller dock shows a larger picture, never a cropped one."""
        height = self.body.height()
        width = min(round(height * self._aspect), max(self.width() // 2, 1))
        self.player.setFixedWidth(max(width, self.player.picture.minimumWidth()))

    def _lay_out(self) -> None:
        self.body = QWidget()
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.player)
        row.addWidget(self.track, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.body, 1)


class TimelineDock(QDockWidget):
    def __init__(self, parent: QMainWindow) -> None:
        super().__init__("Timeline", parent)
        self.setObjectName("timelineDock")
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )

    @property
    def panel(self) -> TimelinePanel | None:
        widget = self.widget()
        return widget if isinstance(widget, TimelinePanel) else None

    def show_workspace(self, workspace: ProjectWorkspace | None) -> None:
        """Show a new project's timeline (or none), dropping the previous one."""
        previous = self.panel
        if previous is not None:
            previous.player.pause()
            previous.cancel_job()
            previous.deleteLater()
        self.setWidget(TimelinePanel(workspace) if workspace is not None else QWidget())
        self.setVisible(workspace is not None)
