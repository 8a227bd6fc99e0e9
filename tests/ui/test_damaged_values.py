"""Issue 19: a project with damaged stored values, or in a read-only folder, opens in the app."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support import png_bytes

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


def corrupt(folder: Path, sql: str) -> None:
    connection = sqlite3.connect(folder / "project.sqlite")
    with connection:
        connection.execute(sql)
    connection.close()


PANEL_2 = "(SELECT id FROM scenes ORDER BY position, id LIMIT 1 OFFSET 1)"


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        (
            f"UPDATE scenes SET camera_move = '{{not json' WHERE id = {PANEL_2}",
            ["panel 2", "camera"],
        ),
        (f"UPDATE scenes SET camera_move = '[1, 2]' WHERE id = {PANEL_2}", ["panel 2", "camera"]),
        ("UPDATE takes SET consistency_json = '{oops'", ["take", "consistency"]),
        ("UPDATE takes SET consistency_json = '[]'", ["take", "consistency"]),
    ],
    ids=["camera-not-json", "camera-list", "consistency-not-json", "consistency-list"],
)
def test_a_project_with_damaged_values_opens_and_names_them(
    qtbot: Any,
    make_window: Any,
    fake_host: EngineHost,
    story_store: ProjectStore,
    sql: str,
    words: list[str],
) -> None:
    ids = [scene.id for scene in story_store.scenes.list()]
    for scene_id in ids[:2]:
        story_store.takes.add(scene_id, png_bytes("red"), TakeParams(width=16, height=16))
    corrupt(story_store.folder, sql)
    window: MainWindow = make_window(fake_host)
    assert window.open_project(story_store.folder)
    workspace = window.workspace
    assert workspace is not None
    assert workspace.storyboard_model.rowCount() == 4
    message = window.messages.text.text().lower()
    for word in words:
        assert word in message, message
    for scene_id in ids:  # every panel can be selected and shown in the inspector
        workspace.storyboard.select_scenes([scene_id])
        qtbot.wait(1)
    assert window.messages.text.text().lower() == message  # no error came up meanwhile


def test_a_read_only_project_opens_in_the_app_and_refuses_edits_with_save_as(
    qtbot: Any, make_window: Any, fake_host: EngineHost, tmp_path: Path
) -> None:
    from support import read_only_view

    shelf = tmp_path / "shelf"
    shelf.mkdir()
    with ProjectStore.create(shelf / "p") as store:
        store.scenes.add("[NC] the sea at night")
    with read_only_view(shelf) as view:
        window: MainWindow = make_window(fake_host)
        assert window.open_project(view / "p.storyboard")
        workspace = window.workspace
        assert workspace is not None
        assert workspace.storyboard_model.rowCount() == 1
        assert workspace.add_panel() is None
        assert "Cannot write" in window.messages.text.text()
        assert window.messages.action_button.text() == "Save As…"
        window.projects.close()  # before the read-only view goes away
