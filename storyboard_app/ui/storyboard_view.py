"""StoryboardView: the grid of panel cards; drag to reorder, multi-select, selection kept.

The zoom (the slider under the grid, or Ctrl+wheel) sets how many cards share
a row, from 8-up thumbnails to one panel as large as the grid; cards keep the
project's aspect ratio, and only the cards on screen load their pictures.

A drop of panels from this storyboard becomes one ``moveRequested(ids, row)``,
which the workspace turns into one undoable move. Qt's own internal-move
handling is not used: it moves rows one by one, which would make one undo step
per panel.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.ui.panel_card import MIN_CARD_WIDTH, PanelCardDelegate, card_size
from storyboard_app.ui.storyboard_model import StoryboardModel

MAX_COLUMNS = 8
DEFAULT_COLUMNS = 3


class StoryboardView(QListView):
    moveRequested = Signal(list, int)  # scene ids, row to insert before
    currentSceneChanged = Signal(object)  # scene id or None
    zoomChanged = Signal(int)  # cards per row

    def __init__(self, model: StoryboardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._kept_selection: list[int] = []
        self._kept_current: int | None = None
        self._columns = DEFAULT_COLUMNS
        self._aspect = model.aspect()
        self._delegate = PanelCardDelegate(self)
        self.setModel(model)
        self.setItemDelegate(self._delegate)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.setAccessibleName("Storyboard")
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)
        model.modelReset.connect(self._on_settings)
        model.dataChanged.connect(self._on_settings)
        self.selectionModel().currentChanged.connect(self._on_current)
        self._fit_cards()

    def columns(self) -> int:
        """Cards per row: 1 (one large panel) to 8 (thumbnails)."""
        return self._columns

    def set_columns(self, columns: int) -> None:
        """Zoom to ``columns`` cards per row; the current panel stays in view."""
        columns = max(1, min(MAX_COLUMNS, columns))
        if columns == self._columns:
            return
        self._columns = columns
        self._fit_cards()
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex())
        self.zoomChanged.emit(columns)

    def card_size(self) -> QSize:
        """The size a card is painted at (its cell may be wider: see ``_fit_cards``)."""
        return self._delegate.card_size()

    def dataChanged(
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        """One card changed: repaint that card, if it is on screen, and nothing else.

        Qt's own handling repaints every card in sight for any one that changes (a
        finished render far down a long story redrew the whole grid); the cards all
        have one size and no editors, so there is nothing else to update.
        """
        if top_left != bottom_right or not top_left.isValid():
            super().dataChanged(top_left, bottom_right, roles)
            return
        rect = self.visualRect(top_left)
        if self.viewport().rect().intersects(rect):
            self.viewport().update(rect)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel zooms: forward makes cards larger (fewer per row)."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y()
            if steps:
                self.set_columns(self._columns + (-1 if steps > 0 else 1))
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_cards()

    def _fit_cards(self) -> None:
        """Card size for the zoom: the row split evenly, the card no taller than the grid."""
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        # The scroll bar is counted whether it shows or not: its coming and going
        # must not change the card size (which could bring it back again).
        width = self.contentsRect().width() - scrollbar - 2
        height = self.contentsRect().height() - 2
        card_width = max(MIN_CARD_WIDTH, width // self._columns)
        size = card_size(card_width, self._aspect)
        while size.height() > height and size.width() > MIN_CARD_WIDTH:
            card_width = max(MIN_CARD_WIDTH, card_width - max(8, (size.height() - height) // 2))
            size = card_size(card_width, self._aspect)
        # The cell keeps the row's share: a card shrunk to fit the height stays alone in it.
        cell = QSize(max(size.width(), width // self._columns), size.height())
        if size != self.card_size() or cell != self.gridSize():
            self._delegate.set_card_size(size)
            self.setGridSize(cell)

    def _on_settings(self) -> None:
        aspect = self._model.aspect()
        if aspect != self._aspect:
            self._aspect = aspect
            self._fit_cards()

    def selected_scene_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        ids = self._model.scene_ids()
        return [ids[row] for row in rows]

    def current_scene_id(self) -> int | None:
        index = self.currentIndex()
        return self._model.scene_ids()[index.row()] if index.isValid() else None

    def select_scenes(self, scene_ids: list[int], current: int | None = None) -> None:
        selection = QItemSelection()
        for scene_id in scene_ids:
            row = self._model.row_of(scene_id)
            if row is not None:
                index = self._model.index(row)
                selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, flags)
        target = current if current is not None else (scene_ids[0] if scene_ids else None)
        row = self._model.row_of(target) if target is not None else None
        if row is not None:
            self.selectionModel().setCurrentIndex(
                self._model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            self.scrollTo(self._model.index(row))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._model.dragged_scene_ids(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._model.dragged_scene_ids(event.mimeData()) is not None:
            super().dragMoveEvent(event)
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        scene_ids = self._model.dragged_scene_ids(event.mimeData())
        if scene_ids is None:
            super().dropEvent(event)
            return
        self.moveRequested.emit(scene_ids, self.drop_row(event.position().toPoint()))
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()

    def drop_row(self, position: QPoint) -> int:
        """The row a drop at ``position`` inserts before: left half of a card = before it."""
        index = self.indexAt(position)
        if not index.isValid():
            return self._model.rowCount()
        before = position.x() < self.visualRect(index).center().x()
        return index.row() if before else index.row() + 1

    def _keep_selection(self) -> None:
        self._kept_selection = self.selected_scene_ids()
        self._kept_current = self.current_scene_id()

    def _restore_selection(self) -> None:
        self.select_scenes(self._kept_selection, self._kept_current)

    def _on_current(self) -> None:
        self.currentSceneChanged.emit(self.current_scene_id())


class StoryboardPane(QWidget):
    """The grid with its zoom slider underneath (Ctrl+wheel over the grid does the same)."""

    def __init__(self, view: StoryboardView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(1, MAX_COLUMNS)
        self.zoom.setMaximumWidth(220)
        self.zoom.setAccessibleName("Card size")
        self.zoom.setToolTip(
            "Card size: from 8 thumbnails a row to one large panel (Ctrl+wheel over the grid)."
        )
        self.zoom_label = QLabel()
        self.zoom.setValue(self._slider_value(view.columns()))
        self.zoom.valueChanged.connect(lambda value: view.set_columns(self._columns_of(value)))
        view.zoomChanged.connect(self._show_zoom)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addStretch(1)
        bar.addWidget(QLabel("Card size"))
        bar.addWidget(self.zoom)
        bar.addWidget(self.zoom_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(view, 1)
        layout.addLayout(bar)
        self._show_zoom(view.columns())
        self.setFocusProxy(view)

    @staticmethod
    def _slider_value(columns: int) -> int:
        """Right is larger: the slider runs from 8 per row (left) to 1 (right)."""
        return MAX_COLUMNS + 1 - columns

    @staticmethod
    def _columns_of(value: int) -> int:
        return MAX_COLUMNS + 1 - value

    def _show_zoom(self, columns: int) -> None:
        self.zoom.blockSignals(True)
        self.zoom.setValue(self._slider_value(columns))
        self.zoom.blockSignals(False)
        self.zoom_label.setText("1 large panel" if columns == 1 else f"{columns} per row")
