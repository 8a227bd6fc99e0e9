"""File > New Project: the story's title, the frame's shape, and where the project goes.

The shape is stored as the project's aspect ratio with an auto size, so the
render size fits whichever model renders it (SDXL about one megapixel on its
64 px buckets, SD 1.5 about 0.26 MP); the dialog shows both sizes. The folder
name is proposed from the title until the artist edits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.frame_sizes import (
    ASPECT_LABELS,
    ASPECT_RATIOS,
    describe_size,
    fit_size,
)
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.store import project_folder
from storyboard_app.ui.project_files import folder_name_for

DEFAULT_TITLE = "Untitled story"
DEFAULT_ASPECT = "16:9"


@dataclass(frozen=True)
class NewProjectChoice:
    title: str
    folder: Path
    settings: ProjectSettings


def size_summary(aspect_ratio: str) -> str:
    """What ``aspect_ratio`` renders at on each architecture."""
    sdxl, sd15 = fit_size(aspect_ratio, "sdxl"), fit_size(aspect_ratio, "sd15")
    return f"SDXL renders {describe_size(*sdxl)}; SD 1.5 renders {describe_size(*sd15)}."


class NewProjectDialog(QDialog):
    def __init__(self, location: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.title = QLineEdit(DEFAULT_TITLE)
        self.title.selectAll()
        self.aspect = QComboBox()
        for ratio in ASPECT_RATIOS:
            self.aspect.addItem(ASPECT_LABELS[ratio], ratio)
        self.aspect.setCurrentIndex(self.aspect.findData(DEFAULT_ASPECT))
        self.sizes = QLabel()
        self.sizes.setWordWrap(True)
        self.location = QLineEdit(str(location))
        self.browse = QPushButton("Browse…")
        self.name = QLineEdit(folder_name_for(DEFAULT_TITLE))
        self.target = QLabel()
        self.target.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #e74c3c")
        self.error.setWordWrap(True)
        self._name_edited = False
        self._build()
        self.title.textEdited.connect(self._on_title)
        self.name.textEdited.connect(self._on_name)
        self.location.textChanged.connect(lambda _text: self._show_target())
        self.aspect.currentIndexChanged.connect(lambda _row: self._show_sizes())
        self.browse.clicked.connect(self._pick_location)
        self._show_sizes()
        self._show_target()

    def choice(self) -> NewProjectChoice:
        title = self.title.text().strip() or DEFAULT_TITLE
        folder = project_folder(Path(self.location.text().strip() or ".") / self._folder_name())
        settings = ProjectSettings(aspect_ratio=self.aspect.currentData())
        return NewProjectChoice(title, folder, settings)

    def accept(self) -> None:
        folder = self.choice().folder
        if folder.exists():
            self.error.setText(f"{folder} already exists: choose another title or folder name.")
            return
        if not folder.parent.is_dir():
            self.error.setText(f"The folder {folder.parent} does not exist: choose one that does.")
            return
        super().accept()

    def _folder_name(self) -> str:
        return self.name.text().strip() or folder_name_for(self.title.text())

    def _on_title(self, text: str) -> None:
        if not self._name_edited:
            self.name.setText(folder_name_for(text))
        self._show_target()

    def _on_name(self, text: str) -> None:
        self._name_edited = bool(text.strip())
        self._show_target()

    def _show_sizes(self) -> None:
        self.sizes.setText(size_summary(self.aspect.currentData()))

    def _show_target(self) -> None:
        self.error.clear()
        self.target.setText(f"Creates {self.choice().folder}")

    def _pick_location(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Where to create the project", self.location.text()
        )
        if path:
            self.location.setText(path)

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Title", self.title)
        form.addRow("Aspect ratio", self.aspect)
        form.addRow("", self.sizes)
        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(self.browse)
        form.addRow("Folder", where)
        form.addRow("Project name", self.name)
        form.addRow("", self.target)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
