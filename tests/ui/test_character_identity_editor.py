"""The character editor's portraits: the identity framings, edited and undone like any field."""

from __future__ import annotations

from typing import Any

import pytest

from storyboard_app.project.characters import DEFAULT_IDENTITY_FRAMINGS
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


@pytest.fixture
def opened(make_window: Any, fake_host: EngineHost, story_store: ProjectStore) -> MainWindow:
    story_store.update_settings(model_source="fake")
    window = make_window(fake_host)
    assert window.open_project(story_store.folder)
    return window


def test_portraits_show_the_defaults_edit_the_character_and_undo(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    store = workspace.store
    panel = workspace.characters_panel
    panel.select_character(store.characters.get("Mara").id)
    editor = panel.editor.framings
    assert editor.toPlainText().splitlines() == list(DEFAULT_IDENTITY_FRAMINGS)
    editor.setPlainText("profile view\n\n  full body, running  ")
    editor.commit()
    assert store.characters.get("Mara").identity_framings == ("profile view", "full body, running")
    assert store.characters.get("Bob").identity_framings == ()
    opened.actions.undo.trigger()
    assert store.characters.get("Mara").identity_framings == ()
    assert editor.toPlainText().splitlines() == list(DEFAULT_IDENTITY_FRAMINGS)
