"""PreviewPlayer: plays the timeline as an animatic, decoding its own frames.

Frames come from the same :class:`TimelineFrames` the MP4 export reads, so the
preview and the export agree to the frame. They are made small (480 pixels
wide) so that a frame is made well inside one tick of the project frame rate
on the UI thread, and drawn scaled to whatever room the dock gives the
picture, keeping the aspect ratio and never cropping. Any edit to the project
drops the frame source; the next frame shown reads the timeline again from the
:class:`TimelineModel` it shares with the track, so a change is laid out once
for both.

Playing has a signed rate, as the J/K/L shuttle of an editor: 1 plays forward,
2, 4 and 8 play faster (frames are skipped, never decoded faster), negative
rates play backward.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.export.errors import NothingToExportError
from storyboard_app.export.frames import TimelineFrames
from storyboard_app.project.timeline import PanelClip
from storyboard_app.ui.images import qimage_from_array
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_model import TimelineModel

PREVIEW_WIDTH = 480
MAX_SHUTTLE = 8


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The preview frame at the panels' aspect, 480 pixels wide, both sides even."""
    return PREVIEW_WIDTH, max(16, round(PREVIEW_WIDTH * height / width / 2) * 2)


def fitted(size: QSize, room: QRect) -> QRect:
    """``size`` scaled to fit inside ``room`` with its aspect kept, centred in it."""
    scaled = size.scaled(room.size(), Qt.AspectRatioMode.KeepAspectRatio)
    target = QRect(0, 0, scaled.width(), scaled.height())
    target.moveCenter(room.center())
    return target


def frame_key(frames: TimelineFrames, index: int) -> tuple[object, ...]:
    """Everything frame ``index`` is drawn from: the clips playing there (pictures are
    named by their content), where in them it is, and the frame size.

    A change elsewhere in the story, or to what the frame does not show (the
    panel's caption in the player), leaves it equal, so the player keeps the
    picture it shows instead of decoding it again.
    """
    timeline = frames.timeline
    clip = timeline.panel_at(index)
    key: tuple[object, ...] = (frames.size, clip_key(frames, clip, index))
    transition = timeline.transition_at(index)
    if transition is None:
        return key
    ends = (transition.from_scene_id, transition.to_scene_id)
    around = [clip_key(frames, c, index) for c in timeline.panels if c.scene_id in ends]
    return (*key, transition, index - transition.start_frame, *around)


def clip_key(frames: TimelineFrames, clip: PanelClip | None, index: int) -> tuple[object, ...]:
    """What of ``clip`` its frame at ``index`` shows: the number only on a placeholder or
    when burnt in, the caption only when burnt in."""
    if clip is None:
        return ()
    style = frames.style
    number = clip.number if clip.media is None or style.panel_numbers else None
    caption = clip.caption if style.captions else None
    offset = min(max(index - clip.start_frame, 0), clip.frame_count - 1)
    return (clip.scene_id, clip.media, clip.camera_move, clip.frame_count, offset, number, caption)


class PreviewPicture(QWidget):
    """The current frame, as large as the widget allows: letterboxed, never cropped."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap = QPixmap()
        self._text = ""
        self.setMinimumSize(64, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def text(self) -> str:
        return self._text

    def setPixmap(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._text = ""
        self.update()

    def setText(self, text: str) -> None:
        self._pixmap = QPixmap()
        self._text = text
        self.update()

    def target_rect(self) -> QRect:
        """Where the frame is drawn: the widget's rectangle at the frame's aspect."""
        if self._pixmap.isNull():
            return QRect()
        return fitted(self._pixmap.size(), self.rect())

    def sizeHint(self) -> QSize:
        return QSize(160, 90)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        if self._pixmap.isNull():
            painter.setPen(QColor("#aaaaaa"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(self.target_rect(), self._pixmap)


class PreviewPlayer(QWidget):
    """Play/pause, shuttle, a scrub slider and loop over the project's frames.

    ``controls`` holds the buttons, slider and time; the timeline dock moves it into
    its toolbar so the picture gets the dock's whole height.
    """

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
        self._shown: tuple[object, ...] | None = None  # what the picture shows, see _frame_key
        self._frame = 0
        self._rate = 1
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.step)
        self.picture = PreviewPicture()
        self.play_button = QToolButton(text="Play", checkable=True)
        self.play_button.setToolTip("Play or pause (Space); J, K and L shuttle")
        self.play_button.toggled.connect(self._on_play_toggled)
        self.loop_box = QCheckBox("Loop")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.seek)
        self.time_label = QLabel()
        self.controls = QWidget()
        self._lay_out()
        self.model.changed.connect(self._on_timeline_changed)
        self._on_timeline_changed()

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def rate(self) -> int:
        """Frames advanced per tick while playing (negative: backward); 0 when stopped."""
        return self._rate if self.is_playing() else 0

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

    def play(self, rate: int = 1) -> None:
        self._rate = rate
        if self.play_button.isChecked():
            self._show_time()
        self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def toggle_play(self) -> None:
        """Space: pause when playing, otherwise play forward at normal speed."""
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def shuttle_forward(self) -> None:
        """L: play forward; pressed again while playing forward, twice as fast (up to 8x)."""
        rate = self.rate
        self.play(min(rate * 2, MAX_SHUTTLE) if rate > 0 else 1)

    def shuttle_backward(self) -> None:
        """J: play backward; pressed again while playing backward, twice as fast."""
        rate = self.rate
        self.play(max(rate * 2, -MAX_SHUTTLE) if rate < 0 else -1)

    def step(self) -> None:
        """One tick: ``rate`` frames on; at either end wrap when looping, else stop there."""
        following = self._frame + self._rate
        last = self.frame_count - 1
        if 0 <= following <= last:
            self.seek(following)
            return
        if self.loop:
            self.seek(0 if following > last else last)
            return
        self.seek(last if following > last else 0)
        self.pause()

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
        """The project changed without a signal: read it again (the track too)."""
        self.model.reload()

    def _on_timeline_changed(self) -> None:
        """The timeline changed: take it up before the next frame."""
        self._frames = None
        count = self.frame_count
        self.slider.setRange(0, max(count - 1, 0))
        self.play_button.setEnabled(count > 0)
        self.seek(self._frame)

    def frame_aspect(self) -> float:
        """Width over height of the frames played (the panels' render size)."""
        width, height = preview_size(*self.session.records.settings().render_size())
        return width / height

    def _source(self) -> TimelineFrames | None:
        if self._frames is None:
            settings = self.session.records.settings()
            size = preview_size(*settings.render_size())
            try:
                self._frames = TimelineFrames(self.model.timeline(), self.session.store.media, size)
            except NothingToExportError:
                return None
        return self._frames

    def _show(self) -> None:
        frames = self._source()
        if frames is None:
            self._shown = None
            self.picture.setText("No panels to play.")
            self.time_label.setText("")
            return
        key = frame_key(frames, self._frame)
        if key != self._shown:
            image = qimage_from_array(frames.frame(self._frame))
            self.picture.setPixmap(QPixmap.fromImage(image))
            self._shown = key
        self._show_time()

    def _show_time(self) -> None:
        frames = self._source()
        if frames is None:
            return
        rate = frames.frame_rate
        text = f"{self._frame / rate:0.2f} / {len(frames) / rate:0.2f} s"
        if self.is_playing() and self._rate != 1:
            text += f"  {'◀' if self._rate < 0 else '▶'} {abs(self._rate)}×"
        self.time_label.setText(text)

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        frames = self._source()
        if not playing or frames is None:
            self._timer.stop()
            self._rate = 1
            self._show_time()
            return
        if not self.loop:
            if self._rate > 0 and self._frame >= len(frames) - 1:
                self.seek(0)
            elif self._rate < 0 and self._frame <= 0:
                self.seek(len(frames) - 1)
        self._timer.start(round(1000 / frames.frame_rate))
        self._show_time()

    def _lay_out(self) -> None:
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        controls.addWidget(self.loop_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.controls)
