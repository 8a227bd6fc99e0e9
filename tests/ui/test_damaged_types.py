"""Values of the wrong kind in the database (text where a number belongs): the app still opens."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE project_settings SET steps = 'many'", ["steps", "project settings"]),
        (
            "UPDATE scenes SET seed = 'lucky' WHERE position = 1",
            ["seed", "panel 2", "whole number"],
        ),
        ("UPDATE characters SET seed = 'x' WHERE name = 'Bob'", ["seed", "character"]),
    ],
    ids=["settings-steps", "panel-seed", "character-seed"],
)
def test_the_app_opens_a_project_holding_values_of_the_wrong_kind_and_names_them(
    make_window: Any, fake_host: EngineHost, story_store: ProjectStore, sql: str, words: list[str]
) -> None:
    connection = sqlite3.connect(story_store.folder / "project.sqlite")
    with connection:
        connection.execute(sql)
    connection.close()
    window: MainWindow = make_window(fake_host)
    assert window.open_project(story_store.folder)
    assert window.workspace is not None
    assert window.workspace.storyboard_model.rowCount() == 4
    message = window.messages.text.text().lower()
    for word in words:
        assert word in message, message
