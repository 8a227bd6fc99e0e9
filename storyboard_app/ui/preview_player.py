"""PreviewPlayer: plays the timeline as an animatic, decoding its own frames.

Frames come from the same :class:`TimelineFrames` the MP4 export reads, so the
preview and the export agree to the frame. They are drawn small (480 pixels
wide) so that a frame is made well inside one tick of the project frame rate
on the UI thread. Any edit to the project drops the frame source; the next
frame shown reads the timeline again from the :class:`TimelineModel` it
shares with the track, so a change is laid out once for both.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.export.errors import NothingToExportError
from storyboard_app.export.frames import TimelineFrames
from storyboard_app.ui.images import qimage_from_array
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_model import TimelineModel

PREVIEW_WIDTH = 480


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The preview frame at the panels' aspect, 480 pixels wide, both sides even."""
    return PREVIEW_WIDTH, max(16, round(PREVIEW_WIDTH * height / width / 2) * 2)


class PreviewPlayer(QWidget):
    """Play/pause, a scrub slider and loop over the project's frames."""

    frameChanged = Signal(int)

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        *,
        model: TimelineModel | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model or TimelineModel(session, self)
        self._frames: TimelineFrames | None = None
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.step)
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 90)
        self.play_button = QToolButton(text="Play", checkable=True)
        self.play_button.toggled.connect(self._on_play_toggled)
        self.loop_box = QCheckBox("Loop")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.seek)
        self.time_label = QLabel()
        self._lay_out()
        self.model.changed.connect(self.invalidate)
        self.invalidate()

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def frame_count(self) -> int:
        frames = self._source()
        return len(frames) if frames else 0

    @property
    def loop(self) -> bool:
        return self.loop_box.isChecked()

    def set_loop(self, loop: bool) -> None:
        self.loop_box.setChecked(loop)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def step(self) -> None:
        """One tick: the next frame, back to the start when looping, else stop at the end."""
        following = self._frame + 1
        if following >= self.frame_count:
            if not self.loop:
                self.pause()
                return
            following = 0
        self.seek(following)

    def seek(self, frame: int) -> None:
        count = self.frame_count
        self._frame = min(max(frame, 0), max(count - 1, 0))
        self._show()
        if self.slider.value() != self._frame:
            self.slider.blockSignals(True)
            self.slider.setValue(self._frame)
            self.slider.blockSignals(False)
        self.frameChanged.emit(self._frame)

    def invalidate(self) -> None:
        """The project changed: read the timeline again before the next frame."""
        self._frames = None
        count = self.frame_count
        self.slider.setRange(0, max(count - 1, 0))
        self.play_button.setEnabled(count > 0)
        self.seek(self._frame)

    def _source(self) -> TimelineFrames | None:
        if self._frames is None:
            settings = self.session.store.settings()
            size = preview_size(*settings.render_size())
            try:
                self._frames = TimelineFrames(self.model.timeline(), self.session.store.media, size)
            except NothingToExportError:
                return None
        return self._frames

    def _show(self) -> None:
        frames = self._source()
        if frames is None:
            self.picture.setText("No panels to play.")
            self.time_label.setText("")
            return
        image = qimage_from_array(frames.frame(self._frame))
        self.picture.setPixmap(QPixmap.fromImage(image))
        rate = frames.frame_rate
        self.time_label.setText(f"{self._frame / rate:0.2f} / {len(frames) / rate:0.2f} s")

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        frames = self._source()
        if not playing or frames is None:
            self._timer.stop()
            return
        if self._frame >= len(frames) - 1 and not self.loop:
            self.seek(0)
        self._timer.start(round(1000 / frames.frame_rate))

    def _lay_out(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        controls.addWidget(self.loop_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addLayout(controls)
