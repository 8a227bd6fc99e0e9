"""Helpers for driving the window in tests (the real widgets, no private shortcuts)."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from storyboard_app.ui.storyboard_model import PanelRole
from storyboard_app.ui.workspace import ProjectWorkspace


def wait_task(qtbot: Any, task: asyncio.Future[Any] | None, timeout: int = 30_000) -> Any:
    assert task is not None
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def statuses(workspace: ProjectWorkspace) -> list[str]:
    model = workspace.storyboard_model
    return [model.index(row).data(PanelRole.STATUS) for row in range(model.rowCount())]


def write_prompt(workspace: ProjectWorkspace, scene_id: int, text: str) -> None:
    """Select a panel and type its prompt into the inspector, as an artist would."""
    workspace.storyboard.select_scenes([scene_id])
    editor = workspace.inspector.fields.prompt
    editor.setPlainText(text)
    editor.commit()


def drop_panels(workspace: ProjectWorkspace, rows: list[int], onto_row: int, after: bool) -> None:
    """Drop the panels at ``rows`` on the left (before) or right (after) half of a card."""
    view = workspace.storyboard
    model = workspace.storyboard_model
    data = model.mimeData([model.index(row) for row in rows])
    rect = view.visualRect(model.index(onto_row))
    x = rect.right() - 5 if after else rect.left() + 5
    point = QPoint(x, rect.center().y())
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    move = Qt.DropAction.MoveAction
    # Qt delivers a drop only to the widget that accepted the drag's enter event.
    QApplication.sendEvent(view.viewport(), QDragEnterEvent(point, move, data, buttons, keys))
    QApplication.sendEvent(view.viewport(), QDragMoveEvent(point, move, data, buttons, keys))
    QApplication.sendEvent(view.viewport(), QDropEvent(QPointF(point), move, data, buttons, keys))
