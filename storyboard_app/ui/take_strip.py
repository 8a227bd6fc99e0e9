"""The take strip: a panel's takes side by side, grouped by the settings that differ.

Takes rendered with the same settings except the seed sit in one group; the
group's header names what sets it apart (e.g. "steps 30 · 1024x768"). Each take
is labelled by its number in the panel ("Take 3", as everywhere in the app) and
what differs within the group (its seed); the active one carries a check badge
and "active" under it ("picked" when the artist chose it by hand). Hovering
shows every setting it was made with. Double-click or "Use take" makes a take
active; "Compare…" shows takes side by side at full size.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.records import TakeRecord
from storyboard_app.project.undo_support import IDENTITIES_KEY
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.project_session import ProjectSession

Index = QModelIndex | QPersistentModelIndex
TAKE_SIZE = QSize(156, 140)
ACTIVE_COLOR = "#2a7fd4"
SETTING_LABELS = {
    "source": "source",
    "model": "model",
    "size": "size",
    "steps": "steps",
    "guidance": "guidance",
    "scheduler": "scheduler",
    "seed": "seed",
    "prompt": "prompt",
    "negative": "negative prompt",
    "consistency": "consistency",
    "identity": "identity",
}


class TakeRole(enum.IntEnum):
    TAKE_ID = Qt.ItemDataRole.UserRole + 1
    GROUP = enum.auto()
    GROUP_START = enum.auto()
    ACTIVE = enum.auto()
    NUMBER = enum.auto()
    STATE = enum.auto()  # "active", "active · picked by hand" or ""


def take_settings(take: TakeRecord) -> dict[str, str]:
    """Every setting of a take as display text, keyed as in SETTING_LABELS."""
    params = take.params
    consistency = {k: v for k, v in params.consistency.items() if k != IDENTITIES_KEY}
    identities = params.consistency.get(IDENTITIES_KEY) or {}
    return {
        "source": params.source,
        "model": params.model_source or "—",
        "size": f"{params.width}x{params.height}",
        "steps": str(params.steps),
        "guidance": f"{params.guidance:g}",
        "scheduler": params.scheduler or "—",
        "seed": str(params.seed),
        "prompt": params.prompt or "—",
        "negative": params.negative_prompt or "—",
        "consistency": ", ".join(f"{k} {v}" for k, v in sorted(consistency.items())) or "—",
        "identity": ", ".join(sorted(str(v) for v in identities.values())) or "—",
    }


def differing_settings(takes: Sequence[TakeRecord]) -> list[str]:
    """The settings whose value is not the same for every take, in SETTING_LABELS order."""
    values = [take_settings(take) for take in takes]
    return [key for key in SETTING_LABELS if len({v[key] for v in values}) > 1]


@dataclass(frozen=True)
class TakeItem:
    take: TakeRecord
    group: str
    label: str
    group_start: bool


def group_takes(takes: Sequence[TakeRecord]) -> list[TakeItem]:
    """Takes grouped by their differing settings other than the seed, groups in order of age."""
    differing = differing_settings(takes)
    group_keys = [key for key in differing if key != "seed"]
    groups: dict[str, list[TakeRecord]] = {}
    for take in takes:
        settings = take_settings(take)
        header = " · ".join(f"{SETTING_LABELS[k]} {_short(settings[k])}" for k in group_keys)
        groups.setdefault(header or "all takes", []).append(take)
    seeds = Counter(take.params.seed for take in takes)
    items: list[TakeItem] = []
    for header, members in groups.items():
        for index, take in enumerate(members):
            items.append(TakeItem(take, header, _label(take, differing, seeds), index == 0))
    return items


def _label(take: TakeRecord, differing: list[str], seeds: Counter[int]) -> str:
    """The take's number in its panel, with its seed when seeds tell the takes apart."""
    if take.params.source == "imported":
        return f"{take.label} · imported"
    if "seed" not in differing:
        return take.label
    return f"{take.label} · seed {take.params.seed}"


def active_state(active: bool, picked: bool) -> str:
    """What the strip and the comparison write under the active take."""
    if not active:
        return ""
    return "active · picked by hand" if picked else "active"


def settings_tooltip(take: TakeRecord) -> str:
    settings = take_settings(take)
    lines = [f"{take.label} (id {take.id}), {take.created_at:%Y-%m-%d %H:%M}"]
    lines += [f"{SETTING_LABELS[key]}: {value}" for key, value in settings.items()]
    return "\n".join(lines)


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TakeListModel(QAbstractListModel):
    def __init__(
        self, session: ProjectSession, thumbnails: ThumbnailCache, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._thumbnails = thumbnails
        self._scene_id: int | None = None
        self._active: int | None = None
        self._picked = False
        self._items: list[TakeItem] = []
        session.sceneChanged.connect(self._on_scene_changed)
        session.scenesChanged.connect(self.reload)
        thumbnails.ready.connect(self._on_media)

    def set_scene(self, scene_id: int | None) -> None:
        self._scene_id = scene_id
        self.reload()

    def reload(self) -> None:
        self._show(self._read())

    def _show(self, state: tuple[list[TakeItem], int | None, bool]) -> None:
        self.beginResetModel()
        self._items, self._active, self._picked = state
        self.endResetModel()

    def _read(self) -> tuple[list[TakeItem], int | None, bool]:
        """The panel's takes as the strip shows them, its active take and whether it was
        picked by hand."""
        records = self._session.records
        scene = records.scene(self._scene_id) if self._scene_id is not None else None
        if scene is None:
            return [], None, False
        return group_takes(records.takes(scene.id)), scene.active_take_id, scene.take_picked

    def take_ids(self) -> list[int]:
        return [item.take.id for item in self._items]

    def scene_id(self) -> int | None:
        return self._scene_id

    def takes(self) -> list[TakeRecord]:
        """The panel's takes in the strip's order."""
        return [item.take for item in self._items]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.label
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.pixmap(item.take.media)
        if role == Qt.ItemDataRole.ToolTipRole:
            return settings_tooltip(item.take)
        if role == TakeRole.TAKE_ID:
            return item.take.id
        if role == TakeRole.GROUP:
            return item.group
        if role == TakeRole.GROUP_START:
            return item.group_start
        if role == TakeRole.ACTIVE:
            return item.take.id == self._active
        if role == TakeRole.NUMBER:
            return item.take.number
        if role == TakeRole.STATE:
            return active_state(item.take.id == self._active, self._picked)
        return None

    def _on_scene_changed(self, scene_id: int) -> None:
        """Reload only when the takes changed: an edit of the panel's words leaves the
        strip (and the take the artist made current in it) as it is."""
        if scene_id != self._scene_id:
            return
        state = self._read()
        if state != (self._items, self._active, self._picked):
            self._show(state)

    def _on_media(self, media: str) -> None:
        for row, item in enumerate(self._items):
            if item.take.media == media:
                self.dataChanged.emit(self.index(row), self.index(row))


def paint_active_mark(painter: QPainter, rect: QRect) -> None:
    """The active take's mark: a frame and a round check badge in its top-right corner."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(ACTIVE_COLOR))
    pen.setWidth(3)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(rect.adjusted(1, 1, -2, -2))
    badge = QRect(rect.right() - 24, rect.top() + 4, 20, 20)
    painter.setPen(QPen(QColor("white"), 2))
    painter.setBrush(QColor(ACTIVE_COLOR))
    painter.drawEllipse(badge)
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "✓")
    painter.restore()


class TakeDelegate(QStyledItemDelegate):
    """A thumbnail with its label; the first take of a group carries the group's header."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return TAKE_SIZE

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        rect = option.rect.adjusted(3, 0, -3, 0)
        muted = option.palette.color(QPalette.ColorRole.PlaceholderText)
        if index.data(TakeRole.GROUP_START):
            painter.setPen(muted)
            header = painter.fontMetrics().elidedText(
                index.data(TakeRole.GROUP), Qt.TextElideMode.ElideRight, rect.width()
            )
            painter.drawText(QRect(rect.left(), rect.top(), rect.width(), 16), 0, header)
        image_rect = QRect(rect.left(), rect.top() + 18, rect.width(), rect.height() - 56)
        painter.fillRect(image_rect, QColor("#2b2b2b"))
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(image_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(image_rect.center())
            painter.drawPixmap(target, scaled)
        active = bool(index.data(TakeRole.ACTIVE))
        if active:
            paint_active_mark(painter, image_rect)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(option.palette.color(QPalette.ColorRole.Highlight))
            painter.drawRect(rect.adjusted(0, 16, -1, -1))
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        label_rect = QRect(rect.left(), image_rect.bottom() + 2, rect.width(), 18)
        label = painter.fontMetrics().elidedText(
            index.data(), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, label)
        if active:
            state_rect = QRect(rect.left(), label_rect.bottom(), rect.width(), 16)
            painter.setPen(QColor(ACTIVE_COLOR))
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(
                state_rect, Qt.AlignmentFlag.AlignCenter, "✓ " + index.data(TakeRole.STATE)
            )
        painter.restore()


class TakeStrip(QWidget):
    """The strip with "Use take" and "Delete take"; requests go out as signals."""

    activateRequested = Signal(int)
    deleteRequested = Signal(int)
    compareRequested = Signal(object)  # the take id to start from, or None

    def __init__(self, model: TakeListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QListView()
        self.view.setModel(model)
        self.view.setItemDelegate(TakeDelegate(self.view))
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(False)
        self.view.setUniformItemSizes(True)
        self.view.setFixedHeight(TAKE_SIZE.height() + 24)
        self.view.setHorizontalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.doubleClicked.connect(self._activate_index)
        self.use_button = QPushButton("Use take")
        self.delete_button = QPushButton("Delete take")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Show takes side by side at full size (Ctrl+T).")
        self.use_button.clicked.connect(self._activate_current)
        self.delete_button.clicked.connect(self._delete_current)
        self.compare_button.clicked.connect(
            lambda: self.compareRequested.emit(self.current_take_id())
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        layout.addLayout(buttons)
        model.modelReset.connect(self._select_active)
        self.view.selectionModel().currentChanged.connect(self._update_buttons)
        self._update_buttons()

    def _select_active(self) -> None:
        """After a reload the active take is the current one, ready for Use or Delete."""
        for row in range(self.model.rowCount()):
            index = self.model.index(row)
            if index.data(TakeRole.ACTIVE):
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
        self._update_buttons()

    def current_take_id(self) -> int | None:
        index = self.view.currentIndex()
        return index.data(TakeRole.TAKE_ID) if index.isValid() else None

    def _activate_index(self, index: QModelIndex) -> None:
        self.activateRequested.emit(index.data(TakeRole.TAKE_ID))

    def _activate_current(self) -> None:
        take_id = self.current_take_id()
        if take_id is not None:
            self.activateRequested.emit(take_id)

    def _delete_current(self) -> None:
        take_id = self.current_take_id()
        if take_id is not None:
            self.deleteRequested.emit(take_id)

    def _update_buttons(self) -> None:
        has_take = self.current_take_id() is not None
        self.use_button.setEnabled(has_take)
        self.delete_button.setEnabled(has_take)
        self.compare_button.setEnabled(self.model.rowCount() > 1)
