"""The main window with the fake engine: start page, editing, rendering, takes, errors, layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import png_bytes
from support_ui import drop_panels, statuses, wait_task, write_prompt

from storyboard_app.project.errors import ProjectReadOnlyError
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.render_controller import NO_MODEL
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import JobStatus


@pytest.fixture
def window(make_window: Any, fake_host: EngineHost) -> MainWindow:
    return make_window(fake_host)


@pytest.fixture
def opened(window: MainWindow, story_store: ProjectStore) -> MainWindow:
    """The window over the four-panel story, with the fake model configured."""
    story_store.update_settings(model_source="fake")
    assert window.open_project(story_store.folder)
    return window


def test_without_a_project_the_start_page_lists_examples_and_recent_projects(
    window: MainWindow, tmp_path: Path
) -> None:
    assert window.stack.currentWidget() is window.start_page
    assert window.start_page.examples.count() == 3
    assert not window.actions.render_all.isEnabled()
    example = Path(window.start_page.examples.item(0).data(256))
    assert window.projects.create_from_script(example, tmp_path / "copy")
    assert window.workspace is not None and len(window.workspace.store.scenes.list()) > 3
    window.projects.close()
    assert window.start_page.recent.item(0).data(256) == str(tmp_path / "copy.storyboard")


def test_create_a_project_add_a_character_and_three_panels(
    window: MainWindow, tmp_path: Path
) -> None:
    assert window.projects.create(tmp_path / "new")
    workspace = window.workspace
    assert workspace is not None
    assert workspace.characters_panel.add_character("Mara", "a woman with short red hair")
    ids = [workspace.add_panel() for _ in range(3)]
    for number, scene_id in enumerate(ids, start=1):
        write_prompt(workspace, scene_id, f"[Mara] scene {number}")
    scenes = workspace.store.scenes.list()
    assert [s.prompt for s in scenes] == ["[Mara] scene 1", "[Mara] scene 2", "[Mara] scene 3"]
    assert all(s.character_names == ("Mara",) for s in scenes)
    assert statuses(workspace) == ["not rendered"] * 3
    assert workspace.characters.rowCount() == 1


def test_render_without_a_model_explains_how_to_configure_one(
    window: MainWindow, story_store: ProjectStore, fake_engine: FakeEngine
) -> None:
    window.open_project(story_store.folder)
    window.actions.render_all.trigger()
    assert window.messages.isVisible() and window.messages.current == NO_MODEL
    assert window.messages.action_button.text() == "Open Settings…"
    assert fake_engine.jobs_run == []


def test_render_all_reroll_and_switch_takes(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    outcome = wait_task(qtbot, workspace.render_all())
    assert outcome.status is JobStatus.FINISHED
    # Cards learn that a panel is rendered when its thumbnail arrives from the pool.
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4)

    second = workspace.store.scenes.at(2)
    workspace.storyboard.select_scenes([second.id])
    opened.actions.reroll.trigger()
    qtbot.waitUntil(lambda: workspace.store.scenes.get(second.id).take_count == 2)
    strip = workspace.inspector.takes
    qtbot.waitUntil(lambda: strip.model.rowCount() == 2)
    labels = [strip.model.index(row).data() for row in range(2)]
    assert [label.split(" · seed ")[0] for label in labels] == ["Take 1", "Take 2"]
    assert labels[0] != labels[1], "seeds tell the takes apart"

    first_take = strip.model.take_ids()[0]
    strip.view.setCurrentIndex(strip.model.index(0))
    strip.use_button.click()
    assert workspace.store.scenes.get(second.id).active_take_id == first_take
    opened.actions.undo.trigger()
    assert workspace.store.scenes.get(second.id).active_take_id != first_take


def test_editing_a_character_marks_its_panels_stale_until_undone(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    wait_task(qtbot, workspace.render_all())
    bob = workspace.store.characters.get("Bob")
    workspace.characters_panel.select_character(bob.id)
    editor = workspace.characters_panel.editor
    editor.seed.setText("4242")
    editor.seed.editingFinished.emit()
    assert statuses(workspace) == ["rendered", *["stale: Bob's look changed"] * 2, "rendered"]
    opened.actions.undo.trigger()
    assert statuses(workspace) == ["rendered"] * 4


def test_drag_and_drop_reorders_panels_in_one_undo_step(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    before = workspace.storyboard_model.scene_ids()
    workspace.storyboard.select_scenes([before[0], before[1]])
    drop_panels(workspace, [0, 1], onto_row=3, after=True)
    after = workspace.storyboard_model.scene_ids()
    assert after == [before[2], before[3], before[0], before[1]]
    assert workspace.selected_scene_ids() == [before[0], before[1]]
    assert workspace.session.undo_stack.count() == 1
    opened.actions.undo.trigger()
    assert workspace.storyboard_model.scene_ids() == before


def test_cancel_from_the_status_bar_stores_no_partial_take(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    fake_engine.steps = 200
    fake_engine.step_delay = 0.01
    task = workspace.render_all()
    qtbot.waitUntil(lambda: "rendering" in statuses(workspace)[0])
    assert opened.job_status.cancel_button.isEnabled()
    opened.job_status.cancel_button.click()
    outcome = wait_task(qtbot, task)
    assert outcome.status is JobStatus.CANCELLED
    assert all(scene.take_count == 0 for scene in workspace.store.scenes.list())
    assert statuses(workspace) == ["not rendered"] * 4
    assert "cancelled" in opened.messages.text.text()


def test_queued_jobs_can_be_removed_from_the_status_bar(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, fake_host: EngineHost
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    fake_engine.steps = 100
    fake_engine.step_delay = 0.01
    running = workspace.render_all()
    queued = workspace.render(workspace.storyboard_model.scene_ids()[:1])
    qtbot.waitUntil(lambda: fake_host.running_job() is not None)
    assert opened.job_status.queue_button.text() == "Queue: 1"
    opened.job_status.queue_menu.actions()[0].trigger()
    assert wait_task(qtbot, queued).status is JobStatus.CANCELLED
    opened.job_status.cancel_button.click()
    wait_task(qtbot, running)
    assert len(fake_engine.jobs_run) == 1


def test_a_failing_model_shows_an_error_and_the_next_render_succeeds(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    fake_engine.failing_sources.add("fake")
    outcome = wait_task(qtbot, workspace.render_all())
    assert outcome.status is JobStatus.FAILED
    assert "does not exist" in opened.messages.text.text()
    assert opened.messages.action_button.text() == "Open Settings…"
    fake_engine.failing_sources.clear()
    assert wait_task(qtbot, workspace.render_all()).status is JobStatus.FINISHED


def test_settings_dialog_checks_the_model_and_applies_undoably(
    qtbot: Any, run_async: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    fake_engine.failing_sources.add("/models/missing.safetensors")
    dialog = opened.open_settings()
    assert dialog is not None
    dialog.model.edit.setText("/models/missing.safetensors")
    run_async(dialog.model.check_now())
    assert dialog.model.status.text().startswith("✗")
    dialog.model.edit.setText("tiny")
    run_async(dialog.model.check_now())
    assert dialog.model.status.text().startswith("✓")
    dialog.steps.setValue(12)
    dialog.precision.setCurrentIndex(dialog.precision.findData("fp16"))
    dialog.accept()
    assert workspace.store.settings().model_source == "tiny"
    assert workspace.store.settings().steps == 12
    assert opened.app_settings.engine_options().dtype == "fp16"
    opened.actions.undo.trigger()
    assert workspace.store.settings().steps == 30


def test_deleting_panels_with_takes_is_undone(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    wait_task(qtbot, workspace.render_all())
    first = workspace.store.scenes.at(1)
    workspace.storyboard.select_scenes([first.id])
    opened.actions.delete.trigger()
    assert len(workspace.store.scenes.list()) == 3
    opened.actions.undo.trigger()
    restored = workspace.store.scenes.at(1)
    assert restored.id == first.id and restored.active_take_id == first.active_take_id
    assert statuses(workspace)[0] == "rendered"


def test_missing_media_is_shown_on_the_panel(
    qtbot: Any, make_window: Any, fake_host: EngineHost, story_store: ProjectStore
) -> None:
    scene = story_store.scenes.at(1)
    take = story_store.takes.add(scene.id, png_bytes("red"), _params())
    story_store.media.path(take.media).unlink()
    window = make_window(fake_host)
    window.open_project(story_store.folder)
    workspace = window.workspace
    assert workspace is not None
    workspace.storyboard_model.index(0).data(256 + 7)  # ask for the picture: starts the load
    qtbot.waitUntil(lambda: statuses(workspace)[0] == "missing image")
    workspace.storyboard.select_scenes([scene.id])
    assert "missing" in workspace.inspector.picture.text()


def test_a_read_only_project_reports_the_edit_and_offers_save_as(
    opened: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = opened.workspace
    assert workspace is not None

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ProjectReadOnlyError("Cannot write to the project (readonly).", "Use Save As.")

    monkeypatch.setattr(workspace.store.scenes, "add", refuse)
    assert workspace.add_panel() is None
    assert "Cannot write" in opened.messages.text.text()
    assert opened.messages.action_button.text() == "Save As…"
    assert workspace.session.undo_stack.count() == 0


def test_save_as_duplicates_the_project_and_continues_in_the_copy(
    opened: MainWindow, tmp_path: Path
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    workspace.add_panel()
    assert opened.projects.save_as(tmp_path / "copy")
    copy = opened.workspace
    assert copy is not None and copy.store.folder == tmp_path / "copy.storyboard"
    assert len(copy.store.scenes.list()) == 5
    assert copy.store.integrity_check() == ["ok"]
    assert opened.app_settings.recent_projects()[0] == tmp_path / "copy.storyboard"


def test_layout_and_recent_projects_persist_in_the_given_settings(
    make_window: Any, fake_host: EngineHost, story_store: ProjectStore
) -> None:
    first = make_window(fake_host)
    first.open_project(story_store.folder)
    # The start page (no docks) fits the test screen (800 px wide); the editor's docks
    # with their minimum widths do not, and a restored window never outgrows its screen.
    first.projects.close()
    first.resize(first.minimumSizeHint().width(), 480)
    size = first.size()
    first.close()
    second = make_window(fake_host)
    assert second.size() == size
    assert second.app_settings.recent_projects() == [story_store.folder]


def _params() -> Any:
    from storyboard_app.project.records import TakeParams

    return TakeParams(width=16, height=16)


def test_out_of_memory_is_explained_and_the_engine_goes_on(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    from storyboard_app.worker.jobs import ErrorInfo, ErrorKind

    workspace = opened.workspace
    assert workspace is not None
    fake_engine.fail_next = ErrorInfo(
        ErrorKind.OUT_OF_MEMORY, "The GPU ran out of memory.", "Try the low-VRAM preset."
    )
    assert wait_task(qtbot, workspace.render_all()).status is JobStatus.FAILED
    assert "ran out of memory" in opened.messages.text.text()
    assert "low-VRAM" in opened.messages.text.text()
    assert opened.messages.action_button.text() == "Open Settings…"
    assert wait_task(qtbot, workspace.render_all()).status is JobStatus.FINISHED


def test_settings_suggest_the_low_vram_preset_for_the_detected_gpu(
    qtbot: Any, run_async: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    fake_engine.gpu_memory_gb = 12.0
    dialog = opened.open_settings()
    assert dialog is not None
    run_async(dialog.detect_gpu())
    assert "12.0 GB" in dialog.detected.text() and "“medium”" in dialog.detected.text()
    dialog.reject()


def test_the_recent_menu_and_quit(opened: MainWindow, story_store: ProjectStore) -> None:
    opened.actions.recent.aboutToShow.emit()
    assert [a.text() for a in opened.actions.recent.actions()] == [str(story_store.folder)]
    opened.actions.close.trigger()
    assert opened.workspace is None and opened.stack.currentWidget() is opened.start_page
    opened.actions.recent.actions()[0].trigger()
    assert opened.workspace is not None
    opened.actions.quit.trigger()
    assert not opened.isVisible()


def test_typing_survives_a_refresh_and_is_saved_when_switching_panels(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    first, second = workspace.storyboard_model.scene_ids()[:2]
    workspace.storyboard.select_scenes([first])
    caption = workspace.inspector.fields.caption
    caption.setPlainText("Half-typed")
    workspace.session.changed(scene_ids=[first])  # e.g. a render of this panel finished
    assert caption.toPlainText() == "Half-typed"
    workspace.storyboard.select_scenes([second])
    assert workspace.store.scenes.get(first).caption == "Half-typed"
    assert caption.toPlainText() == workspace.store.scenes.get(second).caption


def test_file_export_opens_the_export_dialog_for_the_project(opened: MainWindow) -> None:
    assert opened.actions.export.isEnabled()
    dialog = opened.open_export()
    assert dialog is not None
    assert dialog.project == opened.workspace.store.folder
    dialog.close()
