"""PanelCardDelegate: paints a storyboard panel as a card, at the size the grid's zoom asks.

A card shows the picture (in the project's aspect ratio), the panel number, the
characters' colour tags, a line with the shot type and duration, the caption
(when the card is wide enough for text to be read), and a status chip that says
why a stale panel is stale. Its size comes from :func:`card_size`, so the view
can lay out 60 panels as 8-up thumbnails or one panel filling the grid.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from storyboard_app.ui.images import THUMBNAIL_SIZE
from storyboard_app.ui.storyboard_model import PanelRole, StatusKind

CARD_SIZE = QSize(220, 200)
MIN_CARD_WIDTH = 64
OUTER = 4
MARGIN = 6
META_HEIGHT = 16
CAPTION_HEIGHT = 34
STATUS_HEIGHT = 18
# Below this width a card is a thumbnail: picture, number, shot line and status only.
CAPTION_MIN_WIDTH = 150
EMPTY_ACTION_HINT = "No action yet: describe what the picture shows"
STATUS_COLORS = {
    StatusKind.NOT_RENDERED: "#8a8a8a",
    StatusKind.RENDERED: "#3c8d4f",
    StatusKind.IMPORTED: "#5b6f9a",
    StatusKind.STALE: "#d98a1c",
    StatusKind.MISSING: "#c0392b",
    StatusKind.QUEUED: "#6d6d9e",
    StatusKind.RENDERING: "#2a7fd4",
}


def text_height(width: int) -> int:
    """Height of a card's lines under its picture: a thumbnail-sized card has no caption."""
    height = META_HEIGHT + STATUS_HEIGHT + 8
    return height + CAPTION_HEIGHT + 2 if width >= CAPTION_MIN_WIDTH else height


def card_size(width: int, aspect: float) -> QSize:
    """The size of a card ``width`` pixels wide whose picture is ``aspect`` (height/width)."""
    width = max(MIN_CARD_WIDTH, width)
    image_width = width - 2 * (OUTER + MARGIN)
    return QSize(width, 2 * (OUTER + MARGIN) + round(image_width * aspect) + text_height(width))


class PanelCardDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = CARD_SIZE

    def set_card_size(self, size: QSize) -> None:
        self._size = size

    def card_size(self) -> QSize:
        return self._size

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self._size

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        cell = QRect(0, 0, self._size.width(), self._size.height())
        cell.moveCenter(option.rect.center())
        card = cell.adjusted(OUTER, OUTER, -OUTER, -OUTER)
        self._paint_frame(painter, option, card)
        inner = card.adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        lines = text_height(self._size.width())
        image_rect = QRect(inner.left(), inner.top(), inner.width(), inner.height() - lines)
        wide = image_rect.width() > THUMBNAIL_SIZE
        picture = index.data(PanelRole.LARGE_IMAGE if wide else PanelRole.IMAGE)
        self._paint_image(painter, image_rect, picture)
        self._paint_number(painter, image_rect, index.data(PanelRole.NUMBER))
        self._paint_tags(painter, image_rect, index.data(PanelRole.COLORS) or [])
        top = image_rect.bottom() + 5
        meta_rect = QRect(inner.left(), top, inner.width(), META_HEIGHT)
        self._paint_meta(painter, option, meta_rect, index.data(PanelRole.META) or "")
        top = meta_rect.bottom() + 2
        if self._size.width() >= CAPTION_MIN_WIDTH:
            caption_rect = QRect(inner.left(), top, inner.width(), CAPTION_HEIGHT)
            self._paint_caption(painter, option, caption_rect, index)
            top = caption_rect.bottom() + 3
        status_rect = QRect(inner.left(), top, inner.width(), STATUS_HEIGHT)
        kind = StatusKind(index.data(PanelRole.STATUS_KIND))
        self._paint_status(painter, status_rect, kind, index.data(PanelRole.STATUS))
        painter.restore()

    def _paint_frame(self, painter: QPainter, option: QStyleOptionViewItem, card: QRect) -> None:
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setPen(highlight if selected else palette.color(QPalette.ColorRole.Mid))
        base = palette.color(QPalette.ColorRole.Base)
        painter.setBrush(highlight.lighter(170) if selected and base.lightness() > 128 else base)
        painter.drawRoundedRect(card, 6, 6)
        if selected:
            painter.drawRoundedRect(card.adjusted(1, 1, -1, -1), 5, 5)

    def _paint_image(self, painter: QPainter, rect: QRect, image: QPixmap | QImage | None) -> None:
        painter.fillRect(rect, QColor("#2b2b2b"))
        if image is None or image.isNull():
            painter.setPen(QColor("#9a9a9a"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no picture yet")
            return
        size = image.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(rect.center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if isinstance(image, QImage):
            painter.drawImage(target, image)
        else:
            painter.drawPixmap(target, image)

    def _paint_number(self, painter: QPainter, rect: QRect, number: int) -> None:
        badge = QRect(rect.left() + 4, rect.top() + 4, 28, 20)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(number))

    def _paint_tags(self, painter: QPainter, rect: QRect, colors: list[str]) -> None:
        x = rect.right() - 16
        for color in reversed(colors):
            painter.setBrush(QColor(color))
            painter.setPen(QColor("white"))
            painter.drawEllipse(QRect(x, rect.top() + 6, 12, 12))
            x -= 16

    def _paint_meta(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, text: str
    ) -> None:
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        elided = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)

    def _paint_caption(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        rect: QRect,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        text = index.data(PanelRole.CAPTION) or ""
        color = QPalette.ColorRole.Text
        if not text.strip():
            # A new panel: a hint where its text will be, never prompt text.
            text, color = EMPTY_ACTION_HINT, QPalette.ColorRole.PlaceholderText
            font = QFont(painter.font())
            font.setItalic(True)
            painter.setFont(font)
        painter.setPen(option.palette.color(color))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        metrics = painter.fontMetrics()
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width() * 2 - 20)
        # Word wrap can still need a third line: it is cut at the caption's box.
        painter.setClipRect(QRect(rect.topLeft(), QSize(rect.width(), 2 * metrics.lineSpacing())))
        painter.drawText(rect, flags, elided)
        painter.setClipping(False)
        painter.setFont(option.font)

    def _paint_status(self, painter: QPainter, rect: QRect, kind: StatusKind, text: str) -> None:
        color = QColor(STATUS_COLORS[kind])
        metrics = painter.fontMetrics()
        # A long status ("stale: prompt changed, Mara's look changed") ends in "…";
        # the card's tooltip has it whole.
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width() - 14)
        width = metrics.horizontalAdvance(text) + 14
        chip = QRect(rect.left(), rect.top(), min(width, rect.width()), rect.height())
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(chip, 8, 8)
        painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
