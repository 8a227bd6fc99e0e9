"""The start page: shown when no project is open. Recent projects and the bundled examples."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.peek import peek_project
from storyboard_app.project.scripts.io import title_from_path
from storyboard_app.ui.images import decode_thumbnail, qimage_from_array

THUMBNAIL = (96, 54)
BLANK_COLOR = (128, 128, 128, 64)  # a frame that reads on light and dark pages


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
        self.recent.setIconSize(QSize(*THUMBNAIL))
        self.recent.setSpacing(2)
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
        """The recent projects by title, each with its first panel's picture."""
        self.recent.clear()
        for folder in folders:
            self.recent.addItem(recent_item(folder))
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


def recent_item(folder: Path) -> QListWidgetItem:
    """``Title`` over ``4 panels · /where/it/is``, with a thumbnail (or a blank frame)."""
    peek = peek_project(folder) if folder.exists() else None
    if peek is None:
        where = f"missing: {folder.parent}" if not folder.exists() else f"unreadable: {folder}"
        item = QListWidgetItem(f"{folder.stem}\n{where}")
        item.setIcon(QIcon(_blank()))
    else:
        count = f"{peek.panels} panel{'s' if peek.panels != 1 else ''}"
        item = QListWidgetItem(f"{peek.title}\n{count} · {folder.parent}")
        item.setIcon(QIcon(_thumbnail(peek.thumbnail)))
    item.setData(Qt.ItemDataRole.UserRole, str(folder))
    item.setToolTip(str(folder))
    return item


def _thumbnail(path: Path | None) -> QPixmap:
    if path is None:
        return _blank()
    try:
        array = decode_thumbnail(path, max(THUMBNAIL))
    except (OSError, ValueError, Image.DecompressionBombError):
        return _blank()
    image = qimage_from_array(array)
    pixmap = _blank()
    painter = QPainter(pixmap)
    scaled = image.scaled(
        *THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    painter.drawImage(
        (THUMBNAIL[0] - scaled.width()) // 2, (THUMBNAIL[1] - scaled.height()) // 2, scaled
    )
    painter.end()
    return pixmap


def _blank() -> QPixmap:
    pixmap = QPixmap(*THUMBNAIL)
    pixmap.fill(QColor(*BLANK_COLOR))
    return pixmap


def _titled(title: str, widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout()
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(widget)
    return layout


def _hint(text: str) -> QListWidgetItem:
    item = QListWidgetItem(text)
    item.setFlags(Qt.ItemFlag.NoItemFlags)
    return item
