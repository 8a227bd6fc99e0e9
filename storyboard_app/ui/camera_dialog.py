"""The camera move of one panel, edited on its picture: start and end frames, easing.

The artist drags and resizes the start and end frames over the panel
(:class:`FramingCanvas`), picks the easing from a list and watches the move
play beside it (:class:`MovePreview`); the numbers (centre and zoom of each
frame) stay below, in step with the rectangles. The dialog only edits a
:class:`CameraMove` value; :func:`set_camera_move` writes it through an undo
command, so the dialog never touches the store. The picture is decoded on a
pool thread; the grid's thumbnail stands in until it arrives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.camera import EASINGS, MAX_ZOOM, CameraMove, Framing, ease
from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.camera_canvas import FramingCanvas, MovePreview
from storyboard_app.ui.commands.timeline import TimelineEditCommand
from storyboard_app.ui.images import ThumbnailCache, decode_thumbnail, qimage_from_array
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.wheel_guard import guard_wheel_in

PICTURE_SIZE = 1280
EASING_LABELS = {
    "linear": "Linear",
    "ease_in": "Ease in (starts slow)",
    "ease_out": "Ease out (ends slow)",
    "ease_in_out": "Ease in and out",
}


def spin_box(low: float, high: float, value: float, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(2)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def easing_icon(easing: str, size: int = 20) -> QIcon:
    """The easing's curve (time across, progress up), so the list shows what each does."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#4a90d9"), 2))
    path = QPainterPath(QPointF(2, size - 2))
    for step in range(1, 21):
        t = step / 20
        path.lineTo(2 + t * (size - 4), size - 2 - ease(easing, t) * (size - 4))
    painter.drawPath(path)
    painter.end()
    return QIcon(pixmap)


class FramingEditor(QGroupBox):
    """Centre x/y as fractions of the panel (0 = left/top) and a zoom (1 = whole panel)."""

    edited = Signal()

    def __init__(self, title: str, framing: Framing, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.center_x = spin_box(0.0, 1.0, framing.center_x, 0.05)
        self.center_y = spin_box(0.0, 1.0, framing.center_y, 0.05)
        self.zoom = spin_box(1.0, MAX_ZOOM, framing.zoom, 0.1)
        form = QFormLayout(self)
        form.addRow("Centre x", self.center_x)
        form.addRow("Centre y", self.center_y)
        form.addRow("Zoom", self.zoom)
        for box in (self.center_x, self.center_y, self.zoom):
            box.valueChanged.connect(self.edited)

    def framing(self) -> Framing:
        return Framing(self.center_x.value(), self.center_y.value(), self.zoom.value())

    def show_framing(self, framing: Framing) -> None:
        """Show a framing set on the picture, without saying it was edited here."""
        for box, value in (
            (self.center_x, framing.center_x),
            (self.center_y, framing.center_y),
            (self.zoom, framing.zoom),
        ):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)


class CameraMoveDialog(QDialog):
    _decoded = Signal(object)  # the panel's picture as an array, or None

    def __init__(
        self,
        move: CameraMove | None,
        panel_number: int,
        parent: QWidget | None = None,
        *,
        picture: Path | None = None,
        thumbnail: QPixmap | None = None,
        aspect: float | None = None,
        seconds: float = 2.0,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Camera move: panel {panel_number}")
        current = move or CameraMove()
        self.enabled = QCheckBox("Move the camera across this panel")
        self.enabled.setChecked(move is not None)
        self.canvas = FramingCanvas()
        self.preview = MovePreview(seconds)
        self.start = FramingEditor("Start (green)", current.start)
        self.end = FramingEditor("End (orange)", current.end)
        self.easing = QComboBox()
        for name in EASINGS:
            self.easing.addItem(easing_icon(name), EASING_LABELS.get(name, name), name)
        self.easing.setIconSize(QSize(20, 20))
        self.set_easing(current.easing)
        for which, framing in (("start", current.start), ("end", current.end)):
            self.canvas.set_framing(which, framing)
        self._show_picture(thumbnail, aspect)
        self._pool = QThreadPool(self)
        self._decoded.connect(self._on_decoded)
        if picture is not None:
            self._load(picture)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._lay_out(buttons)
        guard_wheel_in(self)
        self._connect()
        self._update_preview()

    def move(self) -> CameraMove | None:
        """The edited move, or None for a still panel."""
        if not self.enabled.isChecked():
            return None
        start, end = self.canvas.framing("start"), self.canvas.framing("end")
        return CameraMove(start, end, self.easing_name())

    def easing_name(self) -> str:
        return str(self.easing.currentData())

    def set_easing(self, name: str) -> None:
        self.easing.setCurrentIndex(max(self.easing.findData(name), 0))

    def done(self, result: int) -> None:
        """Closed: no decode may finish into a dialog that is going away."""
        self._pool.clear()
        self._pool.waitForDone()
        super().done(result)

    def _connect(self) -> None:
        self.canvas.framingChanged.connect(self._on_canvas_edit)
        self.start.edited.connect(lambda: self._on_numbers_edit("start", self.start))
        self.end.edited.connect(lambda: self._on_numbers_edit("end", self.end))
        self.easing.currentIndexChanged.connect(self._update_preview)
        self.enabled.toggled.connect(self._update_preview)

    def _on_canvas_edit(self, which: str, framing: Framing) -> None:
        """A frame dragged on the picture: the numbers follow, the preview shows that end."""
        (self.start if which == "start" else self.end).show_framing(framing)
        self._edited(which)

    def _on_numbers_edit(self, which: str, editor: FramingEditor) -> None:
        self.canvas.set_framing(which, editor.framing())
        self._edited(which)

    def _edited(self, which: str) -> None:
        self.enabled.setChecked(True)
        self._update_preview()
        self.preview.show_at(0.0 if which == "start" else 1.0)

    def _update_preview(self) -> None:
        self.preview.set_move(self.move())

    def _show_picture(self, pixmap: QPixmap | None, aspect: float | None) -> None:
        if pixmap is not None and pixmap.isNull():
            pixmap = None
        self.canvas.set_picture(pixmap, aspect)
        self.preview.set_picture(pixmap, aspect)

    def _load(self, path: Path) -> None:
        def task() -> None:
            try:
                self._decoded.emit(decode_thumbnail(path, PICTURE_SIZE))
            except (OSError, ValueError):
                self._decoded.emit(None)

        self._pool.start(task)

    def _on_decoded(self, array: np.ndarray | None) -> None:
        if array is not None:
            self._show_picture(QPixmap.fromImage(qimage_from_array(array)), None)

    def _lay_out(self, buttons: QDialogButtonBox) -> None:
        side = QVBoxLayout()
        side.addWidget(QLabel("Preview"))
        side.addWidget(self.preview)
        easing = QFormLayout()
        easing.addRow("Easing", self.easing)
        side.addLayout(easing)
        side.addWidget(self.start)
        side.addWidget(self.end)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.canvas, 1)
        body.addLayout(side)
        hint = QLabel("Drag a frame to move it, drag a corner to resize it.")
        hint.setStyleSheet("color: gray")
        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addLayout(body, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)


def set_camera_move(session: ProjectSession, scene_id: int, move: CameraMove | None) -> bool:
    """Set a panel's camera move as one undo step; False when nothing changed or refused."""
    if session.store.scenes.get(scene_id).camera_move == move:
        return False
    return session.execute(TimelineEditCommand(session, scene_id, camera_move=move))


def camera_dialog_for(
    session: ProjectSession,
    scene_id: int,
    parent: QWidget | None = None,
    thumbnails: ThumbnailCache | None = None,
) -> CameraMoveDialog:
    """The dialog for a panel: its move, its picture (the thumbnail first), its duration."""
    store = session.store
    scene = store.scenes.get(scene_id)
    media = None if scene.active_take_id is None else store.takes.get(scene.active_take_id).media
    path = None
    if media is not None:
        try:
            path = store.media.path(media)
        except StoryboardError:  # a link leading outside the project: no picture
            path = None
    thumbnail = thumbnails.pixmap(media) if thumbnails is not None and media else None
    width, height = store.settings().render_size()
    return CameraMoveDialog(
        scene.camera_move,
        scene.number,
        parent,
        picture=path if path is not None and path.is_file() else None,
        thumbnail=thumbnail,
        aspect=width / height,
        seconds=scene.duration,
    )


def edit_camera_move(
    session: ProjectSession,
    scene_id: int,
    parent: QWidget | None = None,
    thumbnails: ThumbnailCache | None = None,
) -> bool:
    """Ask for a panel's camera move and apply it; False when cancelled or unchanged."""
    dialog = camera_dialog_for(session, scene_id, parent, thumbnails)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return set_camera_move(session, scene_id, dialog.move())
    finally:
        dialog.deleteLater()
