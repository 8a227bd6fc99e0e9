"""The timeline dock: the preview player beside the track, with zoom and camera actions.

The dock outlives projects but its contents do not: opening another project
replaces the panel, so no player keeps reading a closed project's store.
"""

from __future__ import annotations

import importlib
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.camera_dialog import edit_camera_move
from storyboard_app.ui.preview_player import PreviewPlayer
from storyboard_app.ui.timeline_model import TimelineModel
from storyboard_app.ui.timeline_view import TimelineView
from storyboard_app.ui.workspace import ProjectWorkspace

# Named, not imported: the job module imports the engine (and torch), which the UI
# must not pull in at start-up; it is loaded the first time a transition is asked for.
TRANSITION_JOB = "storyboard_app.worker.transition_jobs:TransitionJob"
DEFAULT_TRANSITION_KIND = "morph"
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
    """Player and track of one open project, kept in step: playing moves the playhead,
    clicking the ruler seeks, selecting a clip selects its panel in the storyboard."""

    def __init__(self, workspace: ProjectWorkspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.timeline = TimelineModel(workspace.session, self)
        self.player = PreviewPlayer(workspace.session, model=self.timeline)
        self.track = TimelineView(workspace.session, model=self.timeline)
        self.toolbar = QToolBar()
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
        self.player.frameChanged.connect(self.track.set_frame)
        self.track.clipActivated.connect(self._edit_camera_of)
        self.track.frameRequested.connect(self.player.seek)
        self.track.scene().selectionChanged.connect(self._select_in_storyboard)
        self._lay_out()

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
        edit_camera_move(self.workspace.session, scene_id, self)

    def _action(self, text: str, keys: QKeySequence.StandardKey | None, slot: object) -> QAction:
        action = self.toolbar.addAction(text)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    def _select_in_storyboard(self) -> None:
        """Follow a click on a clip; a rebuild of the track clears the selection, ignored."""
        selected = self.track.selected_scene_ids()
        if selected:
            self.workspace.storyboard.select_scenes(selected)

    def _lay_out(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.player)
        splitter.addWidget(self.track)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(splitter, 1)


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
