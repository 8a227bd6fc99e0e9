"""What the timeline track draws: panel clips, transitions over their cuts, clip thumbnails.

A clip is painted, not assembled from child items, so a long story costs one
item per panel; it shows the panel's picture (a thumbnail from the shared
:class:`ThumbnailCache`, decoded on a pool thread and scaled once per media
file), its number, its duration and, when the camera moves across it, a mark.
A transition shows its kind on the cut it overlaps.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from storyboard_app.project.camera import CameraMove
from storyboard_app.project.timeline import PanelClip, TransitionClip
from storyboard_app.ui.images import ThumbnailCache

CLIP_FILL = QColor("#3d5478")
CLIP_BORDER = QColor("#1f2f46")
SELECTED_BORDER = QColor("#f5c542")
BADGE_FILL = QColor(0, 0, 0, 170)
CAMERA_MARK = QColor("#7fd1ff")
LABEL_PIXELS = 10
BADGE_HEIGHT = 14.0
CAMERA_MARK_WIDTH = 16.0
SCALED_LIMIT = 600
# How a transition that plays as a cut is drawn, by status: colour and what the tooltip says.
AS_CUT_LOOKS = {
    "failed": ("#c0392b", "failed: plays as a cut until you make it again"),
    "stale": ("#e67e22", "stale: a panel's picture changed; plays as a cut until remade"),
    "pending": ("#7f8c8d", "not made yet: plays as a cut"),
}
PLAYING_COLOUR = "#d4a017"


def label_font() -> QFont:
    font = QFont()
    font.setPixelSize(LABEL_PIXELS)
    return font


def format_seconds(seconds: float) -> str:
    """A duration as an editor writes it: ``2.5s``, ``1.25s``, ``3s``."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"


def describe_move(move: CameraMove) -> str:
    start, end = move.start, move.end
    return (
        f"Camera move ({move.easing.replace('_', ' ')}): "
        f"zoom {start.zoom:.2f} at ({start.center_x:.2f}, {start.center_y:.2f}) to "
        f"zoom {end.zoom:.2f} at ({end.center_x:.2f}, {end.center_y:.2f})"
    )


class ClipThumbnails(QObject):
    """Clip-high thumbnails by media name: the shared cache's picture, scaled once.

    ``ready(media)`` says a picture asked for earlier can now be drawn.
    """

    ready = Signal(str)

    def __init__(self, cache: ThumbnailCache | None, height: int, parent: QObject | None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._height = height
        self._scaled: OrderedDict[str, QPixmap] = OrderedDict()
        if cache is not None:
            cache.ready.connect(self._on_ready)

    def pixmap(self, media: str | None) -> QPixmap | None:
        """The scaled thumbnail, or None while it loads (or when there is no picture)."""
        if media is None or self._cache is None:
            return None
        scaled = self._scaled.get(media)
        if scaled is not None:
            self._scaled.move_to_end(media)
            return scaled
        source = self._cache.pixmap(media)
        if source is None:
            return None
        scaled = source.scaledToHeight(self._height, Qt.TransformationMode.SmoothTransformation)
        self._scaled[media] = scaled
        while len(self._scaled) > SCALED_LIMIT:
            self._scaled.popitem(last=False)
        return scaled

    def _on_ready(self, media: str) -> None:
        self._scaled.pop(media, None)
        self.ready.emit(media)


class PanelClipItem(QGraphicsRectItem):
    """A panel held for its duration; its right edge is the handle that changes it."""

    def __init__(
        self,
        clip: PanelClip,
        rect: QRectF,
        frame_rate: int,
        thumbnails: ClipThumbnails | None = None,
    ) -> None:
        super().__init__(rect)
        self.clip = clip
        self.frame_rate = frame_rate
        self.thumbnails = thumbnails
        self.dragged_seconds: float | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.show_clip(clip)

    @property
    def seconds(self) -> float:
        """The duration shown: the one being dragged to, or the panel's."""
        if self.dragged_seconds is not None:
            return self.dragged_seconds
        return self.clip.frame_count / self.frame_rate

    @property
    def duration_text(self) -> str:
        return format_seconds(self.seconds)

    @property
    def has_camera_mark(self) -> bool:
        return self.clip.camera_move is not None

    def show_clip(self, clip: PanelClip) -> None:
        """Show a new state of the same panel at the same place (caption, picture, move)."""
        self.clip = clip
        tip = clip.caption or f"Panel {clip.number}"
        if clip.camera_move is not None:
            tip += "\n" + describe_move(clip.camera_move)
        self.setToolTip(tip)
        self.update()

    def near_right_edge(self, scene_x: float, grab: float) -> bool:
        return abs(scene_x - self.rect().right()) <= grab

    def set_right(self, x: float, seconds: float) -> None:
        """Follow a drag: the new right edge and the duration it stands for."""
        rect = self.rect()
        rect.setRight(max(rect.left() + 1, x))
        self.setRect(rect)
        self.dragged_seconds = seconds
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = self.rect()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setClipRect(rect)
        painter.fillRect(rect, CLIP_FILL)
        self._paint_thumbnail(painter, rect)
        painter.setFont(label_font())
        right = self._paint_duration(painter, rect)
        if self.has_camera_mark:
            self._paint_camera_mark(painter, QPointF(right - CAMERA_MARK_WIDTH - 2, rect.top() + 2))
        self._paint_badge(painter, QPointF(rect.left() + 2, rect.top() + 2), str(self.clip.number))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(SELECTED_BORDER, 3) if selected else QPen(CLIP_BORDER, 1))
        painter.drawRect(rect.adjusted(1, 1, -1, -1) if selected else rect)
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, rect: QRectF) -> None:
        pixmap = self.thumbnails.pixmap(self.clip.media) if self.thumbnails else None
        if pixmap is not None:
            painter.drawPixmap(QPointF(rect.left() + 1, rect.top() + 1), pixmap)

    def _paint_badge(self, painter: QPainter, top_left: QPointF, text: str) -> float:
        """A small dark chip with white text; returns its width."""
        width = QFontMetricsF(painter.font()).horizontalAdvance(text) + 8
        badge = QRectF(top_left, QPointF(top_left.x() + width, top_left.y() + BADGE_HEIGHT))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_FILL)
        painter.drawRoundedRect(badge, 3, 3)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        return width

    def _paint_duration(self, painter: QPainter, rect: QRectF) -> float:
        """The duration at the top right; returns the x its chip starts at."""
        text = self.duration_text
        width = QFontMetricsF(painter.font()).horizontalAdvance(text) + 8
        left = rect.right() - width - 2
        self._paint_badge(painter, QPointF(left, rect.top() + 2), text)
        return left

    def _paint_camera_mark(self, painter: QPainter, top_left: QPointF) -> None:
        """A small movie camera: a body and a lens."""
        x, y = top_left.x(), top_left.y()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_FILL)
        painter.drawRoundedRect(QRectF(x, y, CAMERA_MARK_WIDTH, BADGE_HEIGHT), 3, 3)
        painter.setBrush(CAMERA_MARK)
        painter.drawRect(QRectF(x + 2, y + 4, 8, 7))
        lens = QPainterPath(QPointF(x + 10, y + 7.5))
        lens.lineTo(x + 14, y + 4)
        lens.lineTo(x + 14, y + 11)
        lens.closeSubpath()
        painter.drawPath(lens)


class TransitionItem(QGraphicsRectItem):
    """A transition between two panels, labelled with its kind: a block over the cut it
    overlaps, or, when it plays as a cut (failed, stale, not made yet), a narrow hatched
    mark on the cut, so the artist sees that it needs making while the time shown is the
    time that plays."""

    def __init__(self, clip: TransitionClip, rect: QRectF, *, as_cut: bool = False) -> None:
        super().__init__(rect)
        self.clip = clip
        self.transition_id = clip.transition_id
        self.kind = clip.kind
        self.label = clip.kind  # written on the track, wider than the block when need be
        self.as_cut = as_cut
        self.status = clip.status if as_cut else "ready"
        self.stale = as_cut and clip.status == "stale"
        if as_cut:
            colour, note = AS_CUT_LOOKS.get(clip.status, AS_CUT_LOOKS["pending"])
            self.setToolTip(f"{clip.kind} ({note})")
            self.setBrush(QBrush(QColor(colour), Qt.BrushStyle.DiagCrossPattern))
        else:
            colour = PLAYING_COLOUR
            self.setToolTip(f"{clip.kind}, {clip.frame_count} frames over the cut")
            self.setBrush(QBrush(QColor(212, 160, 23, 170)))
        self.colour = QColor(colour)
        self.setPen(QPen(self.colour.darker(), 2 if as_cut else 1))

    def label_rect(self) -> QRectF:
        """Where the kind is written: at the bottom, centred on the block, at least as wide
        as the word."""
        rect = self.rect()
        width = max(QFontMetricsF(label_font()).horizontalAdvance(self.label) + 8, 0.0)
        return QRectF(
            rect.center().x() - width / 2, rect.bottom() - BADGE_HEIGHT, width, BADGE_HEIGHT
        )

    def boundingRect(self) -> QRectF:
        return super().boundingRect().united(self.label_rect().adjusted(-1, -1, 1, 1))

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.save()
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRect(self.rect())
        chip = self.label_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour.darker(150))
        painter.drawRoundedRect(chip, 3, 3)
        painter.setFont(label_font())
        painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, self.label)
        painter.restore()
