"""The issue's "done when", through the real window and the tiny random model.

Create a project, add a character and three panels, render all, reroll one
panel and switch between its takes, cancel a render midway (no partial take),
and a failing model source shows an error while a later job still succeeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support_ui import statuses, wait_task, write_prompt

from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import JobStatus

RENDER_TIMEOUT_MS = 120_000


@pytest.fixture
def window(make_window: Any, tiny_host: EngineHost) -> MainWindow:
    return make_window(tiny_host)


def configure_tiny_model(qtbot: Any, run_async: Any, window: MainWindow, steps: int) -> None:
    """Choose the tiny model in the settings dialog, as an artist would."""
    dialog = window.open_settings()
    assert dialog is not None
    dialog.model.edit.setText("tiny")
    run_async(dialog.model.check_now(), timeout=RENDER_TIMEOUT_MS)
    assert dialog.model.status.text().startswith("✓ Tiny")
    dialog.width_box.setValue(64)
    dialog.height_box.setValue(64)
    dialog.steps.setValue(steps)
    dialog.accept()


def new_story(window: MainWindow, folder: Path) -> list[int]:
    assert window.projects.create(folder)
    workspace = window.workspace
    assert workspace is not None
    assert workspace.characters_panel.add_character("Mara", "a woman with short red hair")
    ids = []
    for number in range(1, 4):
        scene_id = workspace.add_panel()
        assert scene_id is not None
        write_prompt(workspace, scene_id, f"[Mara] walks the beach, picture {number}")
        ids.append(scene_id)
    return ids


def test_render_all_then_reroll_one_panel_and_switch_takes(
    qtbot: Any, run_async: Any, window: MainWindow, tmp_path: Path
) -> None:
    ids = new_story(window, tmp_path / "beach")
    workspace = window.workspace
    assert workspace is not None
    configure_tiny_model(qtbot, run_async, window, steps=2)

    window.actions.render_all.trigger()
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 3, timeout=RENDER_TIMEOUT_MS)

    workspace.storyboard.select_scenes([ids[1]])
    window.actions.reroll.trigger()
    store = workspace.store
    qtbot.waitUntil(lambda: store.scenes.get(ids[1]).take_count == 2, timeout=RENDER_TIMEOUT_MS)
    takes = store.takes.list(ids[1])
    assert takes[0].params.seed != takes[1].params.seed
    assert store.scenes.get(ids[1]).active_take_id == takes[1].id

    strip = workspace.inspector.takes
    qtbot.waitUntil(lambda: strip.model.rowCount() == 2)
    strip.view.setCurrentIndex(strip.model.index(strip.model.take_ids().index(takes[0].id)))
    strip.use_button.click()
    assert store.scenes.get(ids[1]).active_take_id == takes[0].id
    assert statuses(workspace) == ["rendered"] * 3, "an older take chosen is not stale"
    window.actions.undo.trigger()
    assert store.scenes.get(ids[1]).active_take_id == takes[1].id
    assert [scene.take_count for scene in store.scenes.list()] == [1, 2, 1]


def test_cancel_midway_keeps_no_partial_take(
    qtbot: Any, run_async: Any, window: MainWindow, tiny_host: EngineHost, tmp_path: Path
) -> None:
    new_story(window, tmp_path / "cancel")
    workspace = window.workspace
    assert workspace is not None
    configure_tiny_model(qtbot, run_async, window, steps=30)
    with qtbot.waitSignal(tiny_host.jobEnded, timeout=RENDER_TIMEOUT_MS) as built:
        window.actions.build_identities.trigger()
    assert built.args[0].status is JobStatus.FINISHED

    task = workspace.render_all()
    qtbot.waitUntil(lambda: "rendering" in statuses(workspace)[0], timeout=RENDER_TIMEOUT_MS)
    window.actions.cancel.trigger()

    outcome = wait_task(qtbot, task, RENDER_TIMEOUT_MS)
    assert outcome.status is JobStatus.CANCELLED
    assert all(scene.take_count == 0 for scene in workspace.store.scenes.list())
    assert statuses(workspace) == ["not rendered"] * 3


def test_a_failing_model_source_shows_an_error_and_a_later_job_succeeds(
    qtbot: Any, run_async: Any, window: MainWindow, tmp_path: Path
) -> None:
    new_story(window, tmp_path / "failing")
    workspace = window.workspace
    assert workspace is not None
    configure_tiny_model(qtbot, run_async, window, steps=2)
    missing = tmp_path / "no-such-model.safetensors"
    workspace.change_settings(workspace.store.settings().with_changes(model_source=str(missing)))

    failed = wait_task(qtbot, workspace.render_all(), RENDER_TIMEOUT_MS)
    assert failed.status is JobStatus.FAILED
    assert window.messages.isVisible() and "no-such-model" in window.messages.text.text()
    assert window.messages.action_button.text() == "Open Settings…"

    window.actions.undo.trigger()
    assert workspace.store.settings().model_source == "tiny"
    succeeded = wait_task(qtbot, workspace.render_all(), RENDER_TIMEOUT_MS)
    assert succeeded.status is JobStatus.FINISHED and len(succeeded.take_ids) == 3
