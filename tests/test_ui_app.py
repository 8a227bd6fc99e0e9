"""The desktop entry point opens a window over a project (offscreen)."""

from __future__ import annotations

from pathlib import Path

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app import ProjectWindow


def test_window_lists_panels(qtbot, story_store: ProjectStore) -> None:
    window = ProjectWindow(story_store.folder)
    qtbot.addWidget(window)
    assert window.panels.count() == 4
    assert window.panels.item(0).text().startswith("1. [Mara] climbs")
    assert "2 characters, 4 panels" in window.summary.text()


def test_window_reports_a_bad_project(qtbot, tmp_path: Path) -> None:
    window = ProjectWindow(tmp_path / "missing.storyboard")
    qtbot.addWidget(window)
    assert "No project at" in window.summary.text()
    assert window.panels.count() == 0
