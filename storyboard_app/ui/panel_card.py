"""PanelCardDelegate: paints a storyboard panel as a card (picture, number, caption, status)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from storyboard_app.ui.storyboard_model import PanelRole, StatusKind

CARD_SIZE = QSize(220, 200)
IMAGE_HEIGHT = 124
MARGIN = 8
STATUS_COLORS = {
    StatusKind.NOT_RENDERED: "#8a8a8a",
    StatusKind.RENDERED: "#3c8d4f",
    StatusKind.IMPORTED: "#5b6f9a",
    StatusKind.STALE: "#d98a1c",
    StatusKind.MISSING: "#c0392b",
    StatusKind.QUEUED: "#6d6d9e",
    StatusKind.RENDERING: "#2a7fd4",
}


class PanelCardDelegate(QStyledItemDelegate):
    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return CARD_SIZE

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        card = option.rect.adjusted(4, 4, -4, -4)
        self._paint_frame(painter, option, card)
        image_rect = QRect(card.left() + MARGIN, card.top() + MARGIN, card.width() - 2 * MARGIN,
                           IMAGE_HEIGHT)  # fmt: skip
        self._paint_image(painter, image_rect, index.data(PanelRole.IMAGE))
        self._paint_number(painter, image_rect, index.data(PanelRole.NUMBER))
        self._paint_tags(painter, image_rect, index.data(PanelRole.COLORS) or [])
        text_top = image_rect.bottom() + 6
        caption_rect = QRect(image_rect.left(), text_top, image_rect.width(), 34)
        self._paint_caption(painter, option, caption_rect, index.data(PanelRole.CAPTION) or "")
        status_rect = QRect(image_rect.left(), caption_rect.bottom() + 4, image_rect.width(), 18)
        kind = StatusKind(index.data(PanelRole.STATUS_KIND))
        self._paint_status(painter, status_rect, kind, index.data(PanelRole.STATUS))
        painter.restore()

    def _paint_frame(self, painter: QPainter, option: QStyleOptionViewItem, card: QRect) -> None:
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(
            palette.color(QPalette.ColorRole.Highlight) if selected else QColor("#c8c8c8")
        )
        fill = palette.color(QPalette.ColorRole.Highlight).lighter(170) if selected else QColor(
            palette.color(QPalette.ColorRole.Base))  # fmt: skip
        painter.setBrush(fill)
        painter.drawRoundedRect(card, 6, 6)

    def _paint_image(self, painter: QPainter, rect: QRect, image: QPixmap | QImage | None) -> None:
        painter.fillRect(rect, QColor("#2b2b2b"))
        if image is None or image.isNull():
            painter.setPen(QColor("#9a9a9a"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no picture yet")
            return
        size = image.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(rect.center())
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

    def _paint_caption(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, text: str
    ) -> None:
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        metrics = painter.fontMetrics()
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width() * 2 - 20)
        painter.drawText(rect, flags, elided)

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
