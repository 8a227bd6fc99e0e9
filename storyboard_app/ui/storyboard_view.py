"""StoryboardView: the grid of panel cards; drag to reorder, multi-select, selection kept.

A drop of panels from this storyboard becomes one ``moveRequested(ids, row)``,
which the workspace turns into one undoable move. Qt's own internal-move
handling is not used: it moves rows one by one, which would make one undo step
per panel.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from storyboard_app.ui.panel_card import CARD_SIZE, PanelCardDelegate
from storyboard_app.ui.storyboard_model import StoryboardModel


class StoryboardView(QListView):
    moveRequested = Signal(list, int)  # scene ids, row to insert before
    currentSceneChanged = Signal(object)  # scene id or None

    def __init__(self, model: StoryboardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._kept_selection: list[int] = []
        self._kept_current: int | None = None
        self.setModel(model)
        self.setItemDelegate(PanelCardDelegate(self))
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setGridSize(CARD_SIZE)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.setAccessibleName("Storyboard")
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)
        self.selectionModel().currentChanged.connect(self._on_current)

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
