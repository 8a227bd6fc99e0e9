"""Issue #9: the open window follows edits another program (the command line) makes.

The command line runs as a real separate process on the project the window has
open; the window must show its edit without being told, and an edit made in the
window afterwards must keep it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support_ui import statuses, wait_task

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.message_bar import UserMessage
from storyboard_app.ui.storyboard_model import PanelRole
from storyboard_app.worker.fake_engine import FakeEngine

CLI_TIMEOUT_MS = 60_000


def run_cli_process(qtbot: Any, *args: str | Path) -> str:
    """Run ``python -m storyboard_app ARGS`` as its own process while the window stays live."""
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard_app", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=CLI_TIMEOUT_MS)
    out, err = process.communicate()
    assert process.returncode == 0, err
    return out


def captions(window: MainWindow) -> list[str]:
    assert window.workspace is not None
    model = window.workspace.storyboard_model
    return [model.index(row).data(PanelRole.CAPTION) for row in range(model.rowCount())]


def test_the_window_shows_a_command_line_edit_and_a_later_edit_here_keeps_it(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    second = workspace.store.scenes.at(2).id
    workspace.storyboard.select_scenes([second])
    assert workspace.inspector.fields.caption.toPlainText() == ""

    run_cli_process(qtbot, "edit-scene", workspace.store.folder, "2", "--caption", "From the CLI")

    qtbot.waitUntil(lambda: captions(opened)[1] == "From the CLI", timeout=5000)
    assert workspace.inspector.fields.caption.toPlainText() == "From the CLI"
    assert workspace.storyboard.selected_scene_ids() == [second]
    notes = workspace.inspector.fields.notes
    notes.setPlainText("Edited in the window")
    notes.commit()
    scene = workspace.store.scenes.get(second)
    assert (scene.caption, scene.notes) == ("From the CLI", "Edited in the window")


def test_a_panel_added_by_the_command_line_appears_and_the_selection_stays(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    third = workspace.store.scenes.at(3).id
    workspace.storyboard.select_scenes([third])

    run_cli_process(qtbot, "add-scene", workspace.store.folder, "[NC] gulls", "--at", "1")

    qtbot.waitUntil(lambda: workspace.storyboard_model.rowCount() == 5, timeout=5000)
    assert captions(opened)[0] == "[NC] gulls"
    assert workspace.storyboard.selected_scene_ids() == [third]
    assert workspace.inspector.scene_id() == third
    assert workspace.inspector.title.text() == "<b>Panel 4</b>"


def test_the_settings_chosen_here_keep_a_setting_the_command_line_changed(
    qtbot: Any, opened: MainWindow
) -> None:
    """The settings dialog was opened before the command line changed the steps; choosing
    another size in it must not put the old step count back."""
    workspace = opened.workspace
    assert workspace is not None
    dialog = opened.open_settings()
    assert dialog is not None
    run_cli_process(qtbot, "settings", workspace.store.folder, "--set", "steps=7")
    dialog.width_box.setValue(640)
    dialog.accept()
    settings = workspace.store.settings()
    assert (settings.steps, settings.width) == (7, 640)


def _start_slow_render(opened: MainWindow, fake_engine: FakeEngine, qtbot: Any) -> Any:
    """Render all four panels one at a time, slowly enough for a command to run meanwhile."""
    workspace = opened.workspace
    assert workspace is not None
    workspace.store.update_settings(window_size=1)
    fake_engine.step_delay = 0.25
    task = workspace.render_all()
    assert task is not None
    qtbot.waitUntil(lambda: "rendering" in statuses(workspace)[0], timeout=10_000)
    return task


def _no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_a_panel_deleted_by_the_command_line_while_it_renders_gets_one_message(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    last = workspace.store.scenes.at(4).id
    task = _start_slow_render(opened, fake_engine, qtbot)
    shown: list[UserMessage] = []
    workspace.messageRaised.connect(shown.append)

    run_cli_process(qtbot, "delete-scene", workspace.store.folder, "4")
    outcome = wait_task(qtbot, task)

    _no_traceback_logged(caplog)
    assert len(shown) == 1
    assert "deleted" in shown[0].text and "4" in shown[0].text
    assert opened.messages.isVisible()
    assert len(outcome.take_ids) == 3
    assert [s.id for s in workspace.store.scenes.list() if s.id == last] == []
    qtbot.waitUntil(lambda: workspace.storyboard_model.rowCount() == 3, timeout=5000)
    assert statuses(workspace) == ["rendered"] * 3
    fake_engine.step_delay = 0
    assert workspace.render_all() is None, "every panel left is rendered and up to date"
    again = wait_task(qtbot, workspace.rerender_all())
    assert len(again.take_ids) == 3, "the window carries on rendering"


def test_a_queued_render_of_a_panel_the_command_line_deleted_says_so_once(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    running = _start_slow_render(opened, fake_engine, qtbot)
    fourth = workspace.store.scenes.at(4).id
    queued = workspace.render([fourth])
    shown: list[UserMessage] = []
    workspace.messageRaised.connect(shown.append)

    run_cli_process(qtbot, "delete-scene", workspace.store.folder, "4")
    wait_task(qtbot, running)
    outcome = wait_task(qtbot, queued)

    _no_traceback_logged(caplog)
    assert outcome.take_ids == ()
    assert any("deleted" in m.text for m in shown), [m.text for m in shown]


def test_a_refresh_of_a_panel_deleted_elsewhere_reads_the_story_again(
    qtbot: Any, opened: MainWindow
) -> None:
    """A render's "panel done" can reach the views after another program deleted the panel."""
    workspace = opened.workspace
    assert workspace is not None
    second = workspace.store.scenes.at(2).id
    workspace.storyboard.select_scenes([second])
    with ProjectStore.open(workspace.store.folder) as other:
        other.scenes.delete(second)
    workspace.session.changed(scene_ids=[second])
    assert workspace.storyboard_model.rowCount() == 3
    assert workspace.inspector.title.text() == "No panel selected"


def test_the_window_s_own_edit_costs_the_watcher_no_refresh_and_no_reload(
    opened: MainWindow,
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    second = workspace.store.scenes.at(2).id
    workspace.storyboard.select_scenes([second])
    workspace.watcher.poll()
    reloads: list[object] = []
    refreshed: list[int] = []
    workspace.session.scenesChanged.connect(lambda: reloads.append(1))
    workspace.session.sceneChanged.connect(refreshed.append)
    caption = workspace.inspector.fields.caption
    caption.setPlainText("Typed here")
    caption.commit()
    assert refreshed == [second]
    assert not workspace.watcher.poll()  # its own commit is no news to the watcher
    assert reloads == [] and refreshed == [second]


def test_a_prompt_edited_by_the_command_line_mid_render_leaves_the_panel_stale_not_a_traceback(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    task = _start_slow_render(opened, fake_engine, qtbot)

    run_cli_process(qtbot, "edit-scene", workspace.store.folder, "4", "--prompt", "[NC] calm")
    outcome = wait_task(qtbot, task)

    _no_traceback_logged(caplog)
    assert len(outcome.take_ids) == 4
    qtbot.waitUntil(lambda: captions(opened)[3] == "[NC] calm", timeout=5000)
    qtbot.waitUntil(
        lambda: statuses(workspace) == ["rendered"] * 3 + ["stale: prompt changed"], timeout=5000
    )
