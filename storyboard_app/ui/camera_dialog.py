"""The camera move of one panel: start and end framings and the easing between them.

The dialog only edits a :class:`CameraMove` value; :func:`set_camera_move`
writes it through an undo command, so the dialog never touches the store.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.camera import EASINGS, MAX_ZOOM, CameraMove, Framing
from storyboard_app.ui.commands.timeline import TimelineEditCommand
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.wheel_guard import guard_wheel_in


def spin_box(low: float, high: float, value: float, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(2)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class FramingEditor(QGroupBox):
    """Centre x/y as fractions of the panel (0 = left/top) and a zoom (1 = whole panel)."""

    def __init__(self, title: str, framing: Framing, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.center_x = spin_box(0.0, 1.0, framing.center_x, 0.05)
        self.center_y = spin_box(0.0, 1.0, framing.center_y, 0.05)
        self.zoom = spin_box(1.0, MAX_ZOOM, framing.zoom, 0.1)
        form = QFormLayout(self)
        form.addRow("Centre x", self.center_x)
        form.addRow("Centre y", self.center_y)
        form.addRow("Zoom", self.zoom)

    def framing(self) -> Framing:
        return Framing(self.center_x.value(), self.center_y.value(), self.zoom.value())


class CameraMoveDialog(QDialog):
    def __init__(
        self, move: CameraMove | None, panel_number: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Camera move: panel {panel_number}")
        current = move or CameraMove()
        self.enabled = QCheckBox("Move the camera across this panel")
        self.enabled.setChecked(move is not None)
        self.start = FramingEditor("Start", current.start)
        self.end = FramingEditor("End", current.end)
        self.easing = QComboBox()
        self.easing.addItems(list(EASINGS))
        self.easing.setCurrentText(current.easing)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._lay_out(buttons)
        guard_wheel_in(self)
        self.enabled.toggled.connect(self._update_enabled)
        self._update_enabled(self.enabled.isChecked())

    def move(self) -> CameraMove | None:
        """The edited move, or None for a still panel."""
        if not self.enabled.isChecked():
            return None
        return CameraMove(self.start.framing(), self.end.framing(), self.easing.currentText())

    def _update_enabled(self, enabled: bool) -> None:
        for widget in (self.start, self.end, self.easing):
            widget.setEnabled(enabled)

    def _lay_out(self, buttons: QDialogButtonBox) -> None:
        framings = QHBoxLayout()
        framings.addWidget(self.start)
        framings.addWidget(self.end)
        easing = QFormLayout()
        easing.addRow("Easing", self.easing)
        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addLayout(framings)
        layout.addLayout(easing)
        layout.addWidget(buttons)


def set_camera_move(session: ProjectSession, scene_id: int, move: CameraMove | None) -> bool:
    """Set a panel's camera move as one undo step; False when nothing changed or refused."""
    if session.store.scenes.get(scene_id).camera_move == move:
        return False
    return session.execute(TimelineEditCommand(session, scene_id, camera_move=move))


def edit_camera_move(session: ProjectSession, scene_id: int, parent: QWidget | None = None) -> bool:
    """Ask for a panel's camera move and apply it; False when cancelled or unchanged."""
    scene = session.store.scenes.get(scene_id)
    dialog = CameraMoveDialog(scene.camera_move, scene.number, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return set_camera_move(session, scene_id, dialog.move())
    finally:
        dialog.deleteLater()
