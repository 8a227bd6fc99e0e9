"""The file pickers the window asks with; each returns a path, or None when cancelled."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from storyboard_app.project.store import project_folder

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
SCRIPT_FILTER = "Story scripts and screenplays (*.toml *.txt *.story *.fountain)"
STORY_FILTER = "Stories and screenplays (*.md *.txt *.fountain)"
PROJECT_FILTER = "Storyboard projects (*.storyboard)"


def ask_new_project(parent: QWidget, folder: Path, title: str = "New project") -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(folder / "Untitled"), PROJECT_FILTER)
    return project_folder(path) if path else None


def ask_project_to_open(parent: QWidget, folder: Path) -> Path | None:
    path = QFileDialog.getExistingDirectory(
        parent, "Open a .storyboard project folder", str(folder)
    )
    return Path(path) if path else None


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
