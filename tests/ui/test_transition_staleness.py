"""Issue #11.2-3 in the window: a morph goes stale when a neighbour is re-rendered or
another take is chosen, is drawn as stale on the timeline, and plays as a cut."""

from __future__ import annotations

from typing import Any

import pytest
from support_ui import statuses, wait_task

from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.timeline_dock import TimelinePanel


def make_morph(qtbot: Any, panel: TimelinePanel, first: int, second: int) -> None:
    panel.track.panel_item(first).setSelected(True)
    panel.track.panel_item(second).setSelected(True)
    job = panel.generate_transition("morph")
    assert job is not None
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    qtbot.waitUntil(lambda: panel.job is None)


def track_marks(panel: TimelinePanel) -> list[tuple[str, str]]:
    return sorted((item.kind, item.status) for item in panel.track.transition_items())


def test_rerender_or_another_take_marks_the_morph_stale(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    wait_task(qtbot, workspace.render_all())
    qtbot.waitUntil(lambda: statuses(workspace) == ["rendered"] * 4)
    store = workspace.store
    panel = opened.timeline_dock.panel
    assert isinstance(panel, TimelinePanel)
    first, second = (scene.id for scene in store.scenes.list()[:2])
    make_morph(qtbot, panel, first, second)
    qtbot.waitUntil(lambda: track_marks(panel) == [("morph", "ready")])
    frames_with_morph = panel.player.frame_count

    workspace.storyboard.select_scenes([second])
    opened.actions.reroll.trigger()
    qtbot.waitUntil(lambda: store.scenes.get(second).take_count == 2)
    qtbot.waitUntil(lambda: track_marks(panel) == [("morph", "stale")])
    (mark,) = panel.track.transition_items()
    assert mark.as_cut and "stale" in mark.toolTip()
    cut = panel.track.panel_item(first).rect().right()
    assert mark.rect().center().x() == pytest.approx(cut)  # on the cut: it takes no time
    assert panel.player.frame_count == frames_with_morph  # a transition never adds time

    strip = workspace.inspector.takes
    qtbot.waitUntil(lambda: strip.model.rowCount() == 2)
    made_from = store.transitions.list()[0].to_take_id
    row = strip.model.take_ids().index(made_from)
    strip.view.setCurrentIndex(strip.model.index(row))
    strip.use_button.click()
    qtbot.waitUntil(lambda: track_marks(panel) == [("morph", "ready")])
    opened.actions.undo.trigger()
    qtbot.waitUntil(lambda: track_marks(panel) == [("morph", "stale")])
