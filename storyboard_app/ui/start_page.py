"""The start page: shown when no project is open. Recent projects and the bundled examples."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.scripts.io import title_from_path


class StartPage(QWidget):
    newRequested = Signal()
    openRequested = Signal()
    recentRequested = Signal(Path)
    exampleRequested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>Storyboard</h1><p>Describe your characters once, write a prompt per "
                       "panel, and render panels in which they stay the same.</p>")  # fmt: skip
        title.setWordWrap(True)
        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")
        self.recent = QListWidget()
        self.recent.setAccessibleName("Recent projects")
        self.examples = QListWidget()
        self.examples.setAccessibleName("Examples")
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        lists = QHBoxLayout()
        lists.addLayout(_titled("Recent projects", self.recent))
        lists.addLayout(_titled("Examples (opens a copy)", self.examples))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 30, 40, 30)
        layout.addWidget(title)
        layout.addLayout(buttons)
        layout.addLayout(lists, 1)
        self.new_button.clicked.connect(self.newRequested)
        self.open_button.clicked.connect(self.openRequested)
        self.recent.itemActivated.connect(self._on_recent)
        self.examples.itemActivated.connect(self._on_example)

    def set_recent(self, folders: list[Path]) -> None:
        self.recent.clear()
        for folder in folders:
            item = QListWidgetItem(f"{folder.stem}    {folder.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            item.setToolTip(str(folder))
            if not folder.exists():
                item.setText(f"{folder.stem}    (missing: {folder.parent})")
            self.recent.addItem(item)
        if not folders:
            self.recent.addItem(_hint("No recent projects yet."))

    def set_examples(self, scripts: list[Path]) -> None:
        self.examples.clear()
        for script in scripts:
            item = QListWidgetItem(title_from_path(script) or script.stem)
            item.setData(Qt.ItemDataRole.UserRole, str(script))
            item.setToolTip(str(script))
            self.examples.addItem(item)

    def _on_recent(self, item: QListWidgetItem) -> None:
        value = item.data(Qt.ItemDataRole.UserRole)
        if value:
            self.recentRequested.emit(Path(value))

    def _on_example(self, item: QListWidgetItem) -> None:
        value = item.data(Qt.ItemDataRole.UserRole)
        if value:
            self.exampleRequested.emit(Path(value))


def _titled(title: str, widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout()
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(widget)
    return layout


def _hint(text: str) -> QListWidgetItem:
    item = QListWidgetItem(text)
    item.setFlags(Qt.ItemFlag.NoItemFlags)
    return item
