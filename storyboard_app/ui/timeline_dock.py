"""The timeline dock: the preview player beside the track, with zoom and camera actions.

The dock outlives projects but its contents do not: opening another project
replaces the panel, so no player keeps reading a closed project's store.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.ui.camera_dialog import edit_camera_move
from storyboard_app.ui.preview_player import PreviewPlayer
from storyboard_app.ui.timeline_view import TimelineView
from storyboard_app.ui.workspace import ProjectWorkspace


class TimelinePanel(QWidget):
    """Player and track of one open project, kept in step: playing moves the playhead,
    clicking the ruler seeks, selecting a clip selects its panel in the storyboard."""

    def __init__(self, workspace: ProjectWorkspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.player = PreviewPlayer(workspace.session)
        self.track = TimelineView(workspace.session)
        self.toolbar = QToolBar()
        self.zoom_in = self._action("Zoom in", QKeySequence.StandardKey.ZoomIn, self.track.zoom_in)
        self.zoom_out = self._action(
            "Zoom out", QKeySequence.StandardKey.ZoomOut, self.track.zoom_out
        )
        self.camera = self._action("Camera move…", None, self.edit_camera)
        self.player.frameChanged.connect(self.track.set_frame)
        self.track.frameRequested.connect(self.player.seek)
        self.track.scene().selectionChanged.connect(self._select_in_storyboard)
        self._lay_out()

    def current_scene_id(self) -> int | None:
        selected = self.track.selected_scene_ids()
        return selected[0] if selected else self.workspace.storyboard.current_scene_id()

    def edit_camera(self) -> None:
        scene_id = self.current_scene_id()
        if scene_id is not None:
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
            previous.deleteLater()
        self.setWidget(TimelinePanel(workspace) if workspace is not None else QWidget())
        self.setVisible(workspace is not None)
