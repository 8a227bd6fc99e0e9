"""The camera move drawn on the panel: a start and an end frame to drag and resize.

A :class:`Framing` is a rectangle on the picture at the picture's own aspect
(the animatic crops the picture itself, then fits it to the frame):
``zoom`` = picture width / rectangle width, the centre as fractions. The
canvas shows both rectangles over the panel's picture; dragging inside one
moves it, dragging a corner resizes it about the opposite corner, and it never
leaves the picture nor zooms past :data:`MAX_ZOOM`. :class:`MovePreview` plays
the move as the animatic will, eased, over the panel's duration.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from storyboard_app.project.camera import MAX_ZOOM, CameraMove, Framing

HANDLE_PX = 8.0
CANVAS_MARGIN = 10.0
LOOKS = {"start": ("#2ecc71", "Start"), "end": ("#ff7043", "End")}
PREVIEW_TICK_MS = 40
PREVIEW_HOLD_S = 0.5  # the preview rests on each end before it plays again
PLACEHOLDER_ASPECT = 16 / 9
ROUNDING = 4


def rect_of(framing: Framing, picture: QRectF) -> QRectF:
    """The part of ``picture`` (a rectangle on screen) that ``framing`` shows."""
    left, top, right, bottom = framing.crop_box(picture.width(), picture.height())
    return QRectF(picture.left() + left, picture.top() + top, right - left, bottom - top)


def framing_of(rect: QRectF, picture: QRectF) -> Framing:
    """The framing that shows ``rect`` of ``picture`` (clamped to what a framing allows)."""
    zoom = min(max(picture.width() / max(rect.width(), 1e-6), 1.0), MAX_ZOOM)
    centre = rect.center()
    x = (centre.x() - picture.left()) / picture.width()
    y = (centre.y() - picture.top()) / picture.height()
    return Framing(
        round(min(max(x, 0.0), 1.0), ROUNDING),
        round(min(max(y, 0.0), 1.0), ROUNDING),
        round(zoom, ROUNDING),
    )


def kept_inside(rect: QRectF, picture: QRectF) -> QRectF:
    """``rect`` shifted (not resized) so that it lies inside ``picture``."""
    moved = QRectF(rect)
    moved.moveLeft(min(max(moved.left(), picture.left()), picture.right() - moved.width()))
    moved.moveTop(min(max(moved.top(), picture.top()), picture.bottom() - moved.height()))
    return moved


def resized(anchor: QPointF, mouse: QPointF, picture: QRectF) -> QRectF:
    """The rectangle at the picture's aspect from ``anchor`` (the fixed corner) towards the
    mouse, as big as the mouse asks, within the picture and the zoom range."""
    aspect = picture.width() / picture.height()
    right, down = mouse.x() >= anchor.x(), mouse.y() >= anchor.y()
    room_w = picture.right() - anchor.x() if right else anchor.x() - picture.left()
    room_h = picture.bottom() - anchor.y() if down else anchor.y() - picture.top()
    asked = max(abs(mouse.x() - anchor.x()), abs(mouse.y() - anchor.y()) * aspect)
    width = min(asked, room_w, room_h * aspect, picture.width())
    width = max(width, picture.width() / MAX_ZOOM)
    height = width / aspect
    left = anchor.x() if right else anchor.x() - width
    top = anchor.y() if down else anchor.y() - height
    return kept_inside(QRectF(left, top, width, height), picture)


def corners(rect: QRectF) -> list[QPointF]:
    return [rect.topLeft(), rect.topRight(), rect.bottomRight(), rect.bottomLeft()]


class _PanelPicture(QWidget):
    """A widget that shows the panel's picture (or a blank at an aspect) fitted to a room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap = QPixmap()
        self._aspect = PLACEHOLDER_ASPECT

    def set_picture(self, pixmap: QPixmap | None, aspect: float | None = None) -> None:
        """Show ``pixmap`` (None: a blank panel at ``aspect``); the frames keep their framing."""
        self._pixmap = pixmap if pixmap is not None else QPixmap()
        if not self._pixmap.isNull():
            self._aspect = self._pixmap.width() / self._pixmap.height()
        elif aspect:
            self._aspect = aspect
        self.update()

    def has_picture(self) -> bool:
        return not self._pixmap.isNull()

    def fitted(self, room: QRectF) -> QRectF:
        """The largest rectangle at the picture's aspect centred in ``room``."""
        width = min(room.width(), room.height() * self._aspect)
        rect = QRectF(0, 0, width, width / self._aspect)
        rect.moveCenter(room.center())
        return rect


class FramingCanvas(_PanelPicture):
    """The panel's picture with the start and end frames on it."""

    framingChanged = Signal(str, object)  # "start" or "end", the new Framing

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._framings = {"start": Framing(), "end": Framing()}
        self._order = ["start", "end"]  # drawn in this order: the last is on top
        self._drag: tuple[str, str, QPointF] | None = None  # which, "move"/"resize", point
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(640, 380)

    def framing(self, which: str) -> Framing:
        return self._framings[which]

    def set_framing(self, which: str, framing: Framing) -> None:
        self._framings[which] = framing
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the picture is drawn: the widget less a margin, at the picture's aspect."""
        room = QRectF(self.rect()).adjusted(
            CANVAS_MARGIN, CANVAS_MARGIN, -CANVAS_MARGIN, -CANVAS_MARGIN
        )
        return self.fitted(room)

    def frame_rect(self, which: str) -> QRectF:
        return rect_of(self._framings[which], self.picture_rect())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        grab = self._grab_at(point)
        if event.button() != Qt.MouseButton.LeftButton or grab is None:
            super().mousePressEvent(event)
            return
        which, mode, anchor = grab
        self._order.remove(which)
        self._order.append(which)
        offset = point - self.frame_rect(which).topLeft()
        self._drag = (which, mode, anchor if mode == "resize" else offset)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        if self._drag is None:
            self.setCursor(self._cursor_at(point))
            return
        which, mode, fixed = self._drag
        picture = self.picture_rect()
        if mode == "resize":
            rect = resized(fixed, point, picture)
        else:
            rect = QRectF(self.frame_rect(which))
            rect.moveTopLeft(point - fixed)
            rect = kept_inside(rect, picture)
        framing = framing_of(rect, picture)
        if framing != self._framings[which]:
            self._framings[which] = framing
            self.update()
            self.framingChanged.emit(which, framing)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        super().mouseReleaseEvent(event)

    def _grab_at(self, point: QPointF) -> tuple[str, str, QPointF] | None:
        """What a press at ``point`` takes: a frame's corner (to resize about the opposite
        one) before its inside (to move it), the frame on top first."""
        for which in reversed(self._order):
            rect = self.frame_rect(which)
            points = corners(rect)
            for index, corner in enumerate(points):
                if (corner - point).manhattanLength() <= HANDLE_PX * 1.5:
                    return which, "resize", points[(index + 2) % 4]
        for which in reversed(self._order):
            if self.frame_rect(which).contains(point):
                return which, "move", point
        return None

    def _cursor_at(self, point: QPointF) -> Qt.CursorShape:
        grab = self._grab_at(point)
        if grab is None:
            return Qt.CursorShape.ArrowCursor
        if grab[1] == "move":
            return Qt.CursorShape.SizeAllCursor
        anchor = grab[2]
        diagonal = (point.x() - anchor.x()) * (point.y() - anchor.y()) > 0
        return Qt.CursorShape.SizeFDiagCursor if diagonal else Qt.CursorShape.SizeBDiagCursor

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        picture = self.picture_rect()
        painter.fillRect(self.rect(), QColor("#202020"))
        if self._pixmap.isNull():
            painter.fillRect(picture, QColor("#3a3a3a"))
            painter.setPen(QColor("#9a9a9a"))
            painter.drawText(picture, Qt.AlignmentFlag.AlignCenter, "no picture yet")
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(picture.toRect(), self._pixmap)
        start, end = self.frame_rect("start").center(), self.frame_rect("end").center()
        painter.setPen(QPen(QColor("white"), 1, Qt.PenStyle.DotLine))
        painter.drawLine(start, end)
        for which in self._order:
            self._paint_frame(painter, which)

    def _paint_frame(self, painter: QPainter, which: str) -> None:
        colour, title = LOOKS[which]
        rect = self.frame_rect(which)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(colour), 2))
        painter.drawRect(rect)
        painter.setBrush(QColor(colour))
        for corner in corners(rect):
            painter.drawRect(QRectF(corner.x() - 4, corner.y() - 4, 8, 8))
        label = QRectF(rect.left() + 4, rect.top() + 4, 44, 16)
        painter.fillRect(label, QColor(0, 0, 0, 160))
        painter.setPen(QColor(colour))
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, title)


class MovePreview(_PanelPicture):
    """The move as the animatic plays it: the picture cropped to the eased framing,
    looping over the panel's duration while shown."""

    def __init__(self, seconds: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._move: CameraMove | None = None
        self._seconds = max(seconds, 0.2)
        self._clock = 0.0
        self._timer = QTimer(self, interval=PREVIEW_TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.t = 0.0
        self.setMinimumSize(240, 135)

    def sizeHint(self) -> QSize:
        return QSize(280, 158)

    def set_move(self, move: CameraMove | None) -> None:
        self._move = move
        self.update()

    def framing(self) -> Framing:
        """What the preview shows now."""
        return self._move.framing_at(self.t) if self._move else Framing()

    def show_at(self, t: float) -> None:
        """Show time ``t`` in [0, 1] of the panel (and play on from there)."""
        self.t = min(max(t, 0.0), 1.0)
        self._clock = self.t * self._seconds
        self.update()

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def showEvent(self, event: object) -> None:
        self._timer.start()

    def hideEvent(self, event: object) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        cycle = self._seconds + 2 * PREVIEW_HOLD_S
        self._clock = (self._clock + PREVIEW_TICK_MS / 1000) % cycle
        self.t = min(max((self._clock - PREVIEW_HOLD_S) / self._seconds, 0.0), 1.0)
        self.update()

    def view_rect(self) -> QRectF:
        return self.fitted(QRectF(self.rect()))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101010"))
        target = self.view_rect()
        framing = self.framing()
        if self._pixmap.isNull():
            painter.fillRect(target, QColor("#3a3a3a"))
            painter.setPen(QColor("#9a9a9a"))
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter, f"zoom {framing.zoom:.2f}")
            return
        source = rect_of(framing, QRectF(0, 0, self._pixmap.width(), self._pixmap.height()))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self._pixmap, source)
