"""The storyboard grid as an artist drives it: zoom, what a card says, and the panel keys."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.images import THUMBNAIL_SIZE
from storyboard_app.ui.main_window import MainWindow, tab_stops
from storyboard_app.ui.panel_card import EMPTY_ACTION_HINT
from storyboard_app.ui.storyboard_model import PanelRole
from storyboard_app.ui.storyboard_view import DEFAULT_COLUMNS
from storyboard_app.worker.host import EngineHost
from tests.ui.support_ui import statuses, wait_task, write_prompt


@pytest.fixture
def opened(make_window: Any, fake_host: EngineHost, story_store: ProjectStore) -> MainWindow:
    story_store.update_settings(model_source="fake")
    window = make_window(fake_host)
    window.resize(1400, 900)
    assert window.open_project(story_store.folder)
    return window


def long_story(folder: Path, panels: int) -> Path:
    with ProjectStore.create(folder, f"{panels} panels") as store:
        for number in range(panels):
            store.scenes.add(f"[NC] panel {number + 1} by the sea", duration=1.5)
        return store.folder


def cards_per_row(workspace: Any) -> int:
    view, model = workspace.storyboard, workspace.storyboard_model
    top = view.visualRect(model.index(0)).top()
    tops = [view.visualRect(model.index(row)).top() for row in range(model.rowCount())]
    return tops.count(top)


def ctrl_wheel(view: Any, forward: bool) -> None:
    centre = QPointF(view.viewport().rect().center())
    delta = QPoint(0, 120 if forward else -120)
    event = QWheelEvent(
        centre,
        view.viewport().mapToGlobal(centre),
        QPoint(),
        delta,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_zoom_goes_from_eight_thumbnails_a_row_to_one_large_panel(
    qtbot: Any, make_window: Any, fake_host: EngineHost, tmp_path: Path
) -> None:
    window = make_window(fake_host)
    window.resize(1400, 900)
    assert window.open_project(long_story(tmp_path / "long", 64))
    workspace = window.workspace
    pane, view = workspace.storyboard_pane, workspace.storyboard
    qtbot.waitUntil(lambda: view.viewport().width() > 400)

    pane.zoom.setValue(pane.zoom.minimum())
    assert view.columns() == 8 and cards_per_row(workspace) == 8
    assert pane.zoom_label.text() == "8 per row"
    small = view.card_size()
    rows = (64 + 7) // 8
    assert rows * small.height() < 12 * view.viewport().height(), "64 panels in a few screens"

    pane.zoom.setValue(pane.zoom.maximum())
    assert view.columns() == 1 and cards_per_row(workspace) == 1
    large = view.card_size()
    assert large.width() > 3 * small.width()
    assert large.height() <= view.viewport().height(), "one panel fits the grid whole"
    assert pane.zoom_label.text() == "1 large panel"


def test_the_grid_reopens_at_the_zoom_last_chosen(
    make_window: Any, fake_host: EngineHost, story_store: ProjectStore, opened: MainWindow
) -> None:
    opened.workspace.storyboard_pane.zoom.setValue(8)
    ctrl_wheel(opened.workspace.storyboard, forward=False)
    assert opened.workspace.storyboard.columns() == 2 != DEFAULT_COLUMNS
    assert opened.projects.close_project()
    again = make_window(fake_host)
    assert again.open_project(story_store.folder)
    assert again.workspace.storyboard.columns() == 2
    assert again.workspace.storyboard_pane.zoom.value() == 7


@pytest.mark.parametrize("stored", ["0", "9", "-2", "wide", ""])
def test_a_bad_stored_zoom_opens_the_grid_at_the_default(
    make_window: Any,
    fake_host: EngineHost,
    story_store: ProjectStore,
    settings_file: Any,
    stored: str,
) -> None:
    settings_file.setValue("view/grid_columns", stored)
    window = make_window(fake_host)
    assert window.open_project(story_store.folder)
    assert window.workspace.storyboard.columns() == DEFAULT_COLUMNS


def test_ctrl_wheel_zooms_and_keeps_the_slider_in_step(opened: MainWindow) -> None:
    workspace = opened.workspace
    view, pane = workspace.storyboard, workspace.storyboard_pane
    columns = view.columns()
    before = view.card_size().width()
    ctrl_wheel(view, forward=True)
    assert view.columns() == columns - 1 and view.card_size().width() > before
    assert pane.zoom.value() == pane.zoom.maximum() + 1 - view.columns()
    ctrl_wheel(view, forward=False)
    ctrl_wheel(view, forward=False)
    assert view.columns() == columns + 1


def test_cards_show_the_shot_type_the_duration_and_why_a_panel_is_stale(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    model = workspace.storyboard_model
    storm = model.index(3)
    assert storm.data(PanelRole.META) == "wide · 2.0 s"
    assert model.index(0).data(PanelRole.META) == "2.0 s"
    wait_task(qtbot, workspace.render_all())
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4)
    write_prompt(workspace, model.panel(1).scene.id, "[Bob] waits at the top, smiling")
    assert statuses(workspace)[1] == "stale: prompt changed"
    assert "Stale: prompt changed" in model.index(1).data(Qt.ItemDataRole.ToolTipRole)
    assert "Take 1" in model.index(1).data(Qt.ItemDataRole.ToolTipRole)


def test_new_panel_goes_after_the_current_one_empty_with_the_cursor_in_its_action(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    store = workspace.store
    second = store.scenes.at(2)
    workspace.storyboard.select_scenes([second.id])
    opened.actions.add_panel.trigger()
    new = store.scenes.at(3)
    assert new.prompt == "" and workspace.storyboard.current_scene_id() == new.id
    prompt = workspace.inspector.fields.prompt
    qtbot.waitUntil(lambda: QApplication.focusWidget() is prompt)
    assert prompt.toPlainText() == "" and prompt.placeholderText()
    card = workspace.storyboard_model.index(2)
    assert card.data(PanelRole.BLANK) is True and card.data(PanelRole.CAPTION) == ""
    assert EMPTY_ACTION_HINT.startswith("No action yet")
    opened.actions.undo.trigger()
    assert [s.id for s in store.scenes.list()].count(new.id) == 0


def test_rendering_a_panel_without_action_says_so_and_renders_nothing(
    opened: MainWindow, fake_host: EngineHost
) -> None:
    workspace = opened.workspace
    workspace.storyboard.select_scenes([workspace.store.scenes.at(4).id])
    new_id = workspace.add_panel()
    assert workspace.render([new_id]) is None
    assert "Panel 5 has no Action text yet" in opened.messages.text.text()
    assert workspace.store.scenes.get(new_id).take_count == 0


def test_render_all_leaves_out_a_panel_without_action_and_names_it(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    shown: list[str] = []
    workspace.statusMessage.connect(shown.append)
    workspace.storyboard.select_scenes([workspace.store.scenes.at(1).id])
    new_id = workspace.add_panel()
    outcome = wait_task(qtbot, workspace.render_all())
    assert len(outcome.take_ids) == 4
    assert workspace.store.scenes.get(new_id).take_count == 0
    assert "Left out (no action yet): panel 2." in shown


def test_ctrl_d_duplicates_after_and_undo_removes_the_copy(opened: MainWindow) -> None:
    workspace = opened.workspace
    store = workspace.store
    first = store.scenes.at(1)
    workspace.storyboard.select_scenes([first.id])
    opened.actions.duplicate.trigger()
    copy = store.scenes.at(2)
    assert copy.id != first.id and workspace.storyboard.current_scene_id() == copy.id
    assert (copy.prompt, copy.caption, copy.character_names, copy.seed) == (
        first.prompt,
        first.caption,
        first.character_names,
        first.seed,
    )
    assert len(store.scenes.list()) == 5
    opened.actions.undo.trigger()
    assert [s.id for s in store.scenes.list()] == [s.id for s in store.scenes.list()[:4]]
    assert len(store.scenes.list()) == 4


def test_ctrl_arrows_move_the_panel_and_undo_puts_it_back(opened: MainWindow) -> None:
    workspace = opened.workspace
    store = workspace.store
    ids = [scene.id for scene in store.scenes.list()]
    workspace.storyboard.select_scenes([ids[1]])
    opened.actions.move_right.trigger()
    assert [s.id for s in store.scenes.list()] == [ids[0], ids[2], ids[1], ids[3]]
    assert workspace.storyboard.current_scene_id() == ids[1]
    opened.actions.move_left.trigger()
    opened.actions.move_left.trigger()
    assert [s.id for s in store.scenes.list()] == [ids[1], ids[0], ids[2], ids[3]]
    opened.actions.move_left.trigger()  # already first: nothing happens
    assert workspace.session.undo_stack.count() == 3
    for _ in range(3):
        opened.actions.undo.trigger()
    assert [s.id for s in store.scenes.list()] == ids


def test_ctrl_arrows_are_the_panel_keys_in_the_grid(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    ids = [scene.id for scene in workspace.store.scenes.list()]
    view = workspace.storyboard
    view.select_scenes([ids[0]])
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert [s.id for s in workspace.store.scenes.list()][:2] == [ids[1], ids[0]]


def test_after_delete_the_next_panel_is_selected(opened: MainWindow) -> None:
    workspace = opened.workspace
    ids = [scene.id for scene in workspace.store.scenes.list()]
    workspace.storyboard.select_scenes([ids[1]])
    opened.actions.delete.trigger()
    assert workspace.storyboard.selected_scene_ids() == [ids[2]]
    assert workspace.inspector.scene_id() == ids[2]
    workspace.storyboard.select_scenes([ids[3]])
    opened.actions.delete.trigger()
    assert workspace.storyboard.selected_scene_ids() == [ids[2]], "the last one: the one before"


def test_tab_goes_from_the_grid_to_the_inspector_to_the_timeline(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    regions = {
        "grid": workspace.storyboard_pane,
        "inspector": workspace.inspector,
        "timeline": opened.timeline_dock,
    }

    def region_of(widget: Any) -> str | None:
        return next((n for n, r in regions.items() if r is widget or r.isAncestorOf(widget)), None)

    stops = len(tab_stops(workspace.inspector)) + len(tab_stops(workspace.storyboard_pane)) + 3
    workspace.storyboard.setFocus()
    qtbot.waitUntil(workspace.storyboard.hasFocus)
    seen: list[str] = []
    for _ in range(stops):
        region = region_of(QApplication.focusWidget())
        if region is not None and (not seen or seen[-1] != region):
            seen.append(region)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert seen[:3] == ["grid", "inspector", "timeline"]


def test_one_large_panel_gets_a_sharper_picture_than_the_thumbnails(
    qtbot: Any, make_window: Any, fake_host: EngineHost, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 576), (90, 120, 160)).save(buffer, "PNG")
    with ProjectStore.create(tmp_path / "big", "big") as store:
        scene = store.scenes.add("[NC] a wide sea")
        store.takes.add(scene.id, buffer.getvalue(), TakeParams(width=1024, height=576))
        folder = store.folder
    window = make_window(fake_host)
    window.resize(1400, 900)
    assert window.open_project(folder)
    workspace = window.workspace
    index = workspace.storyboard_model.index(0)
    qtbot.waitUntil(lambda: index.data(PanelRole.IMAGE) is not None)
    assert index.data(PanelRole.IMAGE).width() <= THUMBNAIL_SIZE
    workspace.storyboard.set_columns(1)
    index.data(PanelRole.LARGE_IMAGE)  # asked for as the large card paints
    qtbot.waitUntil(lambda: index.data(PanelRole.LARGE_IMAGE).width() > THUMBNAIL_SIZE)


def test_a_picture_shared_by_many_panels_repaints_them_in_one_signal(
    qtbot: Any, make_window: Any, fake_host: EngineHost, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (90, 120, 160)).save(buffer, "PNG")
    with ProjectStore.create(tmp_path / "copies", "copies") as store:
        for number in range(5):
            scene = store.scenes.add(f"[NC] the same sea {number}")
            take = store.takes.add(scene.id, buffer.getvalue(), TakeParams(width=64, height=36))
        store.scenes.add("[NC] not rendered")
        folder = store.folder
    window = make_window(fake_host)
    assert window.open_project(folder)
    model = window.workspace.storyboard_model
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda first, last, *_: changes.append((first.row(), last.row())))

    window.workspace.thumbnails.ready.emit(take.media)

    assert changes == [(0, 4)]
