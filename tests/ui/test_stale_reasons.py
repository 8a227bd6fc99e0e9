"""Issue #11 "stale means one thing": cards and the inspector say why; Render Stale renders them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from support_ui import statuses, wait_task, write_prompt

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.workspace import ProjectWorkspace
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost


@pytest.fixture
def rendered(
    qtbot: Any, make_window: Any, fake_host: EngineHost, story_store: ProjectStore
) -> MainWindow:
    story_store.update_settings(model_source="fake")
    window = make_window(fake_host)
    assert window.open_project(story_store.folder)
    assert window.workspace is not None
    workspace = window.workspace
    wait_task(qtbot, workspace.render_all())
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4, timeout=10_000)
    return window


def _workspace(window: MainWindow) -> ProjectWorkspace:
    assert window.workspace is not None
    return window.workspace


def test_editing_a_prompt_marks_the_card_and_the_inspector_stale(rendered: MainWindow) -> None:
    workspace = _workspace(rendered)
    second = workspace.store.scenes.at(2).id
    write_prompt(workspace, second, "[Bob] sleeps at the top")
    assert statuses(workspace) == ["rendered", "stale: prompt changed", "rendered", "rendered"]
    note = workspace.inspector.stale_note
    assert not note.isHidden() and "prompt changed" in note.text()
    rendered.actions.undo.trigger()
    assert statuses(workspace) == ["rendered"] * 4
    assert note.isHidden()


def test_a_seed_typed_in_the_inspector_says_seed_changed(rendered: MainWindow) -> None:
    workspace = _workspace(rendered)
    workspace.storyboard.select_scenes([workspace.store.scenes.at(4).id])
    fields = workspace.inspector.fields
    fields.seed.setText("99")
    fields.seed.editingFinished.emit()
    assert statuses(workspace)[3] == "stale: seed changed"


def test_changed_settings_mark_every_rendered_panel_until_undone(rendered: MainWindow) -> None:
    workspace = _workspace(rendered)
    workspace.storyboard.select_scenes([workspace.store.scenes.at(1).id])
    settings = workspace.store.settings()
    workspace.change_settings(dataclasses.replace(settings, steps=settings.steps + 5))
    assert statuses(workspace) == ["stale: settings changed"] * 4
    assert "settings changed" in workspace.inspector.stale_note.text()
    rendered.actions.undo.trigger()
    assert statuses(workspace) == ["rendered"] * 4


def test_render_stale_renders_exactly_the_stale_panels(
    qtbot: Any, rendered: MainWindow, fake_engine: FakeEngine
) -> None:
    workspace = _workspace(rendered)
    second, fourth = workspace.store.scenes.at(2).id, workspace.store.scenes.at(4).id
    write_prompt(workspace, second, "[Bob] sleeps at the top")
    workspace.store.characters.update("Bob", description="a young man in a yellow coat")
    workspace.session.changed(characters=True)
    write_prompt(workspace, fourth, "[NC] a calm sea")
    expected = [workspace.store.scenes.at(n).id for n in (2, 3, 4)]
    assert workspace.storyboard_model.stale_scene_ids() == expected
    assert statuses(workspace)[2] == "stale: Bob's look changed"

    jobs_before = len(fake_engine.jobs_run)
    rendered.actions.render_stale.trigger()
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4, timeout=10_000)
    assert len(fake_engine.jobs_run) == jobs_before + 1
    assert list(fake_engine.jobs_run[-1].scene_ids or ()) == expected
    assert workspace.render_stale() is None
