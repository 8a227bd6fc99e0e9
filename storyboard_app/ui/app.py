"""``storyboard-app``: the desktop entry point.

For now a read-only window over a project's panels; the full editor builds on
this entry point.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QMainWindow, QVBoxLayout, QWidget

from storyboard_app import __version__
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.store import ProjectStore


class ProjectWindow(QMainWindow):
    """Shows a project's name and its panels in story order."""

    def __init__(self, project: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"Storyboard {__version__}")
        self.summary = QLabel("Open a project: storyboard-app PATH.storyboard")
        self.panels = QListWidget()
        layout = QVBoxLayout()
        layout.addWidget(self.summary)
        layout.addWidget(self.panels)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.resize(720, 480)
        if project is not None:
            self.load(project)

    def load(self, project: Path) -> None:
        """Show ``project``; a project that cannot be opened is reported in the window."""
        self.panels.clear()
        try:
            with ProjectStore.open(project) as store:
                info = store.info()
                scenes = store.scenes.list()
        except StoryboardError as exc:
            self.summary.setText(str(exc))
            return
        self.setWindowTitle(f"{info.name} — Storyboard {__version__}")
        self.summary.setText(
            f"{info.name}: {info.character_count} characters, {info.scene_count} panels"
        )
        for scene in scenes:
            characters = ", ".join(scene.character_names) or "no characters"
            self.panels.addItem(f"{scene.number}. {scene.prompt}  [{characters}]")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    window = ProjectWindow(Path(args[0]) if args else None)
    window.show()
    return app.exec()
