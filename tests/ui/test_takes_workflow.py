"""Takes as an artist meets them: numbered per panel, the active one marked, compared side by
side, and Render All / Re-render Every Panel that respect a take picked by hand."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from storyboard_app.ui.commands.scenes import EditSceneCommand
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.render_questions import RenderChoice
from storyboard_app.ui.take_strip import TakeRole
from tests.ui.support_ui import statuses, wait_task, write_prompt


def rendered_with_three_takes(qtbot: Any, window: MainWindow) -> int:
    """Render all, then reroll panel 2 twice: it has takes 1, 2 and 3 (3 active)."""
    workspace = window.workspace
    wait_task(qtbot, workspace.render_all())
    second = workspace.store.scenes.at(2).id
    workspace.storyboard.select_scenes([second])
    for _ in range(2):
        wait_task(qtbot, workspace.render_selected(reroll=True))
    qtbot.waitUntil(lambda: workspace.inspector.takes.model.rowCount() == 3)
    return second


def strip_rows(window: MainWindow) -> list[tuple[str, bool, str]]:
    model = window.workspace.inspector.takes.model
    rows = [model.index(row) for row in range(model.rowCount())]
    return [(i.data(), i.data(TakeRole.ACTIVE), i.data(TakeRole.STATE)) for i in rows]


def test_takes_are_numbered_per_panel_and_the_active_one_is_marked(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    rows = strip_rows(opened)
    assert [label.split(" · ")[0] for label, _, _ in rows] == ["Take 1", "Take 2", "Take 3"]
    assert [(active, state) for _, active, state in rows] == [
        (False, ""),
        (False, ""),
        (True, "active"),
    ]
    first_panel = workspace.store.scenes.at(1).id
    assert [t.label for t in workspace.store.takes.list(first_panel)] == ["Take 1"]
    card = workspace.storyboard_model.index(workspace.storyboard_model.row_of(second))
    assert "Take 3" in card.data(Qt.ItemDataRole.ToolTipRole)


def test_a_deleted_take_leaves_the_others_their_numbers(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    strip = workspace.inspector.takes
    strip.view.setCurrentIndex(strip.model.index(1))
    strip.delete_button.click()
    assert [t.label for t in workspace.store.takes.list(second)] == ["Take 1", "Take 3"]
    wait_task(qtbot, workspace.render_selected(reroll=True))
    assert [t.label for t in workspace.store.takes.list(second)] == ["Take 1", "Take 3", "Take 4"]
    opened.actions.undo.trigger()  # the delete (renders are not edits)
    assert [t.number for t in workspace.store.takes.list(second)] == [1, 2, 3, 4]


def test_picking_a_take_shows_its_seed_and_marks_it_picked_until_undone(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    takes = workspace.store.takes.list(second)
    seed_field = workspace.inspector.fields.seed
    assert seed_field.text() == str(takes[2].params.seed)
    strip = workspace.inspector.takes
    strip.view.setCurrentIndex(strip.model.index(0))
    strip.use_button.click()
    assert seed_field.text() == str(takes[0].params.seed)
    assert strip_rows(opened)[0][1:] == (True, "active · picked by hand")
    scene = workspace.store.scenes.get(second)
    assert scene.take_picked and scene.active_take_id == takes[0].id
    assert statuses(workspace)[1] == "rendered", "the picked take is not stale"
    opened.actions.undo.trigger()
    scene = workspace.store.scenes.get(second)
    assert not scene.take_picked and scene.active_take_id == takes[2].id
    assert seed_field.text() == str(takes[2].params.seed)


def test_compare_shows_two_or_four_takes_cycles_with_arrows_and_picks_one(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    takes = workspace.store.takes.list(second)
    opened.actions.compare_takes.trigger()
    dialog = workspace.comparison
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.shown_take_ids() == [takes[2].id, takes[0].id], "starts at the active take"
    assert dialog.tiles[0].state.text() == "✓ active"
    assert dialog.tiles[1].label.text().startswith("Take 1")
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.shown_take_ids() == [takes[0].id, takes[1].id]
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert dialog.shown_take_ids() == [takes[1].id, takes[2].id]
    dialog.layout_buttons.button(4).click()
    assert len(dialog.shown_take_ids()) == 3, "four up shows every take there is"
    qtbot.waitUntil(lambda: dialog.tiles[0].picture.pixmap().width() > 0)
    assert dialog.tiles[0].picture.pixmap().width() > dialog.tiles[0].picture.width() // 2
    dialog.tiles[0].use_button.click()
    assert workspace.store.scenes.get(second).active_take_id == takes[1].id
    assert dialog.tiles[0].state.text() == "✓ active · picked by hand"
    opened.actions.undo.trigger()
    assert workspace.store.scenes.get(second).active_take_id == takes[2].id
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert workspace.store.scenes.get(second).active_take_id == dialog.shown_take_ids()[0]
    dialog.close()


def test_compare_needs_two_takes(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    shown: list[str] = []
    workspace.statusMessage.connect(shown.append)
    workspace.storyboard.select_scenes([workspace.store.scenes.at(1).id])
    assert workspace.compare_takes() is None
    assert "two takes" in shown[-1]


def test_render_all_renders_only_the_panels_without_picture_or_stale(
    qtbot: Any, opened: MainWindow, fake_engine: Any
) -> None:
    workspace = opened.workspace
    wait_task(qtbot, workspace.render_all())
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4)
    assert workspace.render_all() is None, "everything is up to date"
    store = workspace.store
    write_prompt(workspace, store.scenes.at(3).id, "[Mara] and [Bob] look at the waves")
    workspace.storyboard.select_scenes([store.scenes.at(4).id])
    new_id = workspace.add_panel()
    write_prompt(workspace, new_id, "[NC] the lamp goes out")
    outcome = wait_task(qtbot, workspace.render_all())
    assert fake_engine.jobs_run[-1].scene_ids == (store.scenes.at(3).id, new_id)
    assert len(outcome.take_ids) == 2
    assert [store.scenes.at(n).take_count for n in range(1, 6)] == [1, 1, 2, 1, 1]


@pytest.mark.parametrize(
    ("choice", "keeps"), [(RenderChoice.KEEP_PICKED, True), (RenderChoice.REPLACE_PICKED, False)]
)
def test_rerender_every_panel_keeps_a_picked_take_unless_asked(
    qtbot: Any, opened: MainWindow, choice: RenderChoice, keeps: bool
) -> None:
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    strip = workspace.inspector.takes
    strip.view.setCurrentIndex(strip.model.index(0))
    strip.use_button.click()
    picked = workspace.store.takes.list(second)[0].id
    asked: list[tuple[int, int]] = []

    def answer(panels: int, picked_panels: int) -> RenderChoice:
        asked.append((panels, picked_panels))
        return choice

    opened.ask_rerender = answer
    before = {s.id: s.active_take_id for s in workspace.store.scenes.list()}
    opened.actions.rerender_all.trigger()
    store = workspace.store
    qtbot.waitUntil(lambda: all(s.take_count >= 2 for s in store.scenes.list()), timeout=10_000)
    qtbot.waitUntil(lambda: store.scenes.get(second).take_count == 4)
    assert asked == [(4, 1)]
    after = {s.id: s.active_take_id for s in store.scenes.list()}
    others = [scene_id for scene_id in before if scene_id != second]
    assert all(after[i] != before[i] for i in others), "the other panels show their new take"
    assert (after[second] == picked) is keeps
    assert store.scenes.get(second).take_picked is keeps


def test_rerender_every_panel_can_be_declined(opened: MainWindow, fake_engine: Any) -> None:
    opened.ask_rerender = lambda panels, picked: None
    opened.actions.rerender_all.trigger()
    assert fake_engine.jobs_run == []


def test_an_edit_of_the_words_keeps_the_take_strip_and_the_picture(
    qtbot: Any, opened: MainWindow
) -> None:
    """A caption typed while a take is current in the strip leaves it current, and the
    inspector's picture is not scaled again (a reset of the strip and a re-scale of the
    picture made every keystroke cost a third of a frame at 1,000 panels)."""
    workspace = opened.workspace
    second = rendered_with_three_takes(qtbot, opened)
    strip, inspector = workspace.inspector.takes, workspace.inspector
    strip.view.setCurrentIndex(strip.model.index(0))
    resets, pictures = [], []
    strip.model.modelReset.connect(lambda: resets.append(1))
    shown = inspector.picture.setPixmap
    inspector.picture.setPixmap = lambda pixmap: (pictures.append(1), shown(pixmap))
    assert workspace.session.execute(EditSceneCommand(workspace.session, second, caption="Gull"))
    assert (resets, pictures) == ([], []), "the words changed, the takes did not"
    assert strip.view.currentIndex().row() == 0
    assert inspector.fields.caption.toPlainText() == "Gull"
    wait_task(qtbot, workspace.render_selected(reroll=True))
    qtbot.waitUntil(lambda: strip.model.rowCount() == 4)
    assert resets and pictures, "a new take did not reach the strip and the picture"
