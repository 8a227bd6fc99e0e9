"""The file pickers the window asks with; each returns a path, or None when cancelled."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from storyboard_app.project.store import DATABASE_NAME, project_folder
from storyboard_app.ui.project_files import project_location

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
SCRIPT_FILTER = "Story scripts and screenplays (*.toml *.txt *.story *.fountain)"
STORY_FILTER = "Stories and screenplays (*.md *.txt *.fountain)"
PROJECT_FILTER = "Storyboard projects (*.storyboard)"
OPEN_FILTER = f"Storyboard projects (*.storyboard {DATABASE_NAME})"


def ask_new_project(
    parent: QWidget, folder: Path, title: str = "New project", name: str = "Untitled"
) -> Path | None:
    """A project folder to create; ``name`` is proposed (e.g. from the story's title)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(folder / name), PROJECT_FILTER)
    return project_folder(path) if path else None


class ProjectOpenDialog(QFileDialog):
    """Picks a project as its ``.storyboard`` folder or the ``project.sqlite`` inside it.

    Qt's dialogs pick either folders or files; this one picks files, and Open on a
    selected project folder takes that folder instead of going into it. The platform's
    own dialog cannot be told that, so Qt's is used.
    """

    def __init__(self, parent: QWidget | None, folder: Path) -> None:
        super().__init__(parent, "Open a project", str(folder), OPEN_FILTER)
        self.setOption(QFileDialog.Option.DontUseNativeDialog)
        self.setFileMode(QFileDialog.FileMode.ExistingFile)
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Project")
        self.chosen: Path | None = None

    def accept(self) -> None:
        picked = [Path(path) for path in self.selectedFiles()]
        if picked and is_project_folder(picked[0]):
            self.chosen = picked[0]
            self.done(QDialog.DialogCode.Accepted)
            return
        super().accept()

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Accepted and self.chosen is None:
            picked = self.selectedFiles()
            self.chosen = project_location(Path(picked[0])) if picked else None
        super().done(result)


def is_project_folder(path: Path) -> bool:
    return path.is_dir() and (path / DATABASE_NAME).is_file()


def ask_project_to_open(parent: QWidget, folder: Path) -> Path | None:
    dialog = ProjectOpenDialog(parent, folder)
    return dialog.chosen if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_story_script(parent: QWidget, folder: Path) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Import story script", str(folder), SCRIPT_FILTER)
    return Path(path) if path else None


def ask_story(parent: QWidget, folder: Path) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "New from story", str(folder), STORY_FILTER)
    return Path(path) if path else None


def ask_images(parent: QWidget, folder: Path) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(
        parent, "Import images into panels", str(folder), IMAGE_FILTER
    )
    return [Path(path) for path in paths]
