"""The project's LoRAs as a table in the settings dialog: file, scale, trigger, character.

The table edits a copy; the dialog hands the list back when it is accepted and
the workspace applies it as one undoable step. A file is checked (safetensors
header only, never unpickled) and hashed when it is added, so a bad file is
explained at once and never reaches the project. Hashing a LoRA of hundreds of
megabytes takes a while, so it runs on a pool thread while the list shows that
it is busy; closing the dialog stops it between chunks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.loras import (
    MAX_SCALE,
    HashingStopped,
    check_safetensors,
    file_digest,
)
from storyboard_app.project.records import LoraRecord

COLUMNS = ("File", "Scale", "Trigger", "Character")
EVERYWHERE = "Everywhere"


class LoraListEditor(QWidget):
    """Add, remove and adjust the project's LoRAs (applied when the dialog is accepted).

    ``busy_changed`` says when a file is being checked; ``file_done`` tells, once
    per :meth:`add_file`, whether the file was added.
    """

    busy_changed = Signal(bool)
    file_done = Signal(bool)
    _checked = Signal(object, object, str)  # path, digest (None: refused), why refused

    def __init__(
        self,
        loras: Sequence[LoraRecord],
        characters: Sequence[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._characters = tuple(characters)
        self._files: list[LoraRecord] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.add_button = QPushButton("Add LoRA…")
        self.remove_button = QPushButton("Remove")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy, no percentage: hashing reports none
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._stop = threading.Event()
        self._busy = False
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self._checked.connect(self._on_checked)
        self.add_button.clicked.connect(self._pick)
        self.remove_button.clicked.connect(self.remove_selected)
        for lora in loras:
            self._append(lora)

    def loras(self) -> list[LoraRecord]:
        """The LoRAs as the table shows them, in its order."""
        return [self._row_record(row) for row in range(self.table.rowCount())]

    def is_busy(self) -> bool:
        return self._busy

    def add_file(self, path: Path) -> None:
        """Check and hash ``path`` on a pool thread, then add it at scale 1, everywhere.

        Until then the list is busy (no second file can be added); ``file_done``
        tells the outcome, and a refusal says why below the table.
        """
        if self._busy:
            return
        path = Path(path).expanduser().resolve()
        self._set_busy(True)
        self.status.setText(f"Checking {path.name}…")
        self._pool.start(lambda: self._check(path))

    def stop(self) -> None:
        """Stop a check in progress and wait for its thread (the dialog is closing)."""
        self._stop.set()
        self._pool.waitForDone()
        self._stop.clear()

    def _check(self, path: Path) -> None:
        """On the pool thread: the header check and the hash; the UI hears back in any case."""
        try:
            check_safetensors(path)
            self._checked.emit(path, file_digest(path, self._stop.is_set), "")
        except HashingStopped:
            self._checked.emit(path, None, "")
        except (StoryboardError, OSError) as exc:
            self._checked.emit(path, None, str(exc))
        except Exception as exc:  # the thread's edge: never leave the list busy
            self._checked.emit(path, None, f"{path.name} could not be read ({exc}).")

    def _on_checked(self, path: Path, digest: str | None, refusal: str) -> None:
        self._set_busy(False)
        if digest is None:
            self.status.setText(refusal)
            self.file_done.emit(False)
            return
        name = unique_name(path.stem, {lora.name for lora in self.loras()})
        self._append(LoraRecord(0, name, path, digest, 1.0, "", None))
        self.status.setText("")
        self.file_done.emit(True)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.add_button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.busy_changed.emit(busy)

    def remove_selected(self) -> None:
        for row in sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
            del self._files[row]

    def _pick(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "LoRA file", "", "Safetensors LoRAs (*.safetensors)"
        )
        if path:
            self.add_file(Path(path))

    def _append(self, lora: LoraRecord) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._files.append(lora)
        item = QTableWidgetItem(lora.name)
        item.setToolTip(str(lora.path))
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.table.setItem(row, 0, item)
        scale = QDoubleSpinBox()
        scale.setRange(-MAX_SCALE, MAX_SCALE)
        scale.setSingleStep(0.1)
        scale.setValue(lora.scale)
        self.table.setCellWidget(row, 1, scale)
        trigger = QLineEdit(lora.trigger)
        trigger.setPlaceholderText("none")
        self.table.setCellWidget(row, 2, trigger)
        owner = QComboBox()
        owner.addItem(EVERYWHERE, None)
        for name in dict.fromkeys((*self._characters, lora.character)):
            if name is not None:
                owner.addItem(name, name)
        owner.setCurrentIndex(max(0, owner.findData(lora.character)))
        self.table.setCellWidget(row, 3, owner)

    def _row_record(self, row: int) -> LoraRecord:
        lora = self._files[row]
        scale = self.table.cellWidget(row, 1)
        trigger = self.table.cellWidget(row, 2)
        owner = self.table.cellWidget(row, 3)
        assert isinstance(scale, QDoubleSpinBox) and isinstance(trigger, QLineEdit)
        assert isinstance(owner, QComboBox)
        return LoraRecord(
            lora.id,
            lora.name,
            lora.path,
            lora.digest,
            scale.value(),
            trigger.text().strip(),
            owner.currentData(),
        )


def unique_name(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… when the list already has that name."""
    name, number = stem, 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}"
    return name
