"""Issue #11.4: reordering keeps a crossfade or cut between the new neighbours (they need
no frames); only a morph or motion goes stale, and undo puts everything back."""

from __future__ import annotations

from typing import Any

import pytest
from support import png_bytes

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import build_timeline
from storyboard_app.ui.commands.scenes import AddSceneCommand, MoveScenesCommand
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_view import TimelineView


@pytest.fixture
def five(store: ProjectStore) -> ProjectStore:
    """Five rendered panels: a crossfade joins 1 and 2, a ready morph joins 3 and 4."""
    ids = []
    for index in range(5):
        scene = store.scenes.add(f"[NC] beat {index + 1}", duration=2.0)
        store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16))
        ids.append(scene.id)
    store.transitions.set(ids[0], ids[1], kind="crossfade", duration=1.0)
    morph = store.transitions.set(ids[2], ids[3], kind="morph", duration=1.0)
    store.transitions.set_result(morph.id, "ready", [store.media.put_image_bytes(png_bytes())])
    return store


def track(view: TimelineView) -> list[tuple[str, str, bool]]:
    return sorted((i.kind, i.status, i.as_cut) for i in view.transition_items())


def pairs(store: ProjectStore) -> list[tuple[int, int, str]]:
    numbers = {scene.id: scene.number for scene in store.scenes.list()}
    return [
        (numbers[t.from_scene_id], numbers[t.to_scene_id], t.status)
        for t in store.transitions.list()
    ]


def test_moving_a_panel_keeps_the_crossfade_and_stales_only_the_morph(
    qtbot: Any, five: ProjectStore
) -> None:
    session = ProjectSession(five)
    view = TimelineView(session)
    qtbot.addWidget(view)
    ids = [scene.id for scene in five.scenes.list()]
    total = view.timeline.total_frames
    assert track(view) == [("crossfade", "ready", False), ("morph", "ready", False)]

    # Panel 5 to position 2 (the case): the crossfade now joins panels 1 and 2.
    assert session.execute(MoveScenesCommand(session, [ids[4]], 1))
    qtbot.waitUntil(lambda: view.timeline.panels[1].scene_id == ids[4])
    assert track(view) == [("crossfade", "ready", False), ("morph", "ready", False)]
    assert pairs(five) == [(1, 2, "pending"), (4, 5, "ready")]
    assert view.timeline.total_frames == total
    session.undo_stack.undo()
    qtbot.waitUntil(lambda: view.timeline.panels[1].scene_id == ids[1])
    assert pairs(five) == [(1, 2, "pending"), (3, 4, "ready")]

    # Panel 5 between 3 and 4: the morph's frames no longer fit, the crossfade stays.
    assert session.execute(MoveScenesCommand(session, [ids[4]], 3))
    qtbot.waitUntil(lambda: view.timeline.panels[3].scene_id == ids[4])
    assert track(view) == [("crossfade", "ready", False), ("morph", "stale", True)]
    assert view.timeline.total_frames == total
    session.undo_stack.undo()
    qtbot.waitUntil(lambda: track(view)[1] == ("morph", "ready", False))
    assert pairs(five) == [(1, 2, "pending"), (3, 4, "ready")]


def test_a_crossfade_follows_its_first_panel_or_else_its_second(
    five: ProjectStore,
) -> None:
    """Project level: the issue's reorder, back again, and a panel moved to the end."""
    ids = [scene.id for scene in five.scenes.list()]
    before = build_timeline(five).total_frames
    assert five.scenes.move(ids[4], 1) == []  # order 1, 5, 2, 3, 4
    timeline = build_timeline(five)
    (fade, morph) = timeline.transitions
    assert (fade.kind, fade.from_scene_id, fade.to_scene_id) == ("crossfade", ids[0], ids[4])
    assert fade.frame_count == 24 and morph.kind == "morph"
    assert timeline.total_frames == before and timeline.as_cuts == ()
    five.scenes.move(ids[4], 4)  # back to 1, 2, 3, 4, 5: it follows panel 1 again
    fade = five.transitions.list()[0]
    assert (fade.from_scene_id, fade.to_scene_id) == (ids[0], ids[1])
    late = five.transitions.set(ids[3], ids[4], kind="crossfade", duration=0.5)
    morph = five.transitions.list()[1]
    # Panel 4 to the end (1, 2, 3, 5, 4): its crossfade joins 3 and 5, the cut before
    # panel 5; the morph between 3 and 4 goes stale.
    assert five.scenes.move(ids[3], 4) == [morph.id]
    moved = five.transitions.get(late.id)
    assert (moved.from_scene_id, moved.to_scene_id) == (ids[2], ids[4])
    assert five.transitions.get(morph.id).status == "stale"
    kinds = [(t.kind, t.from_scene_id) for t in build_timeline(five).transitions]
    assert kinds == [("crossfade", ids[0]), ("crossfade", ids[2])]


def test_inserting_a_panel_moves_the_crossfade_and_undo_puts_it_back(
    qtbot: Any, five: ProjectStore
) -> None:
    """Inserting a panel puts the crossfade before it; undoing (a delete) puts it back."""
    session = ProjectSession(five)
    ids = [scene.id for scene in five.scenes.list()]
    add = AddSceneCommand(session, "[NC] gulls", position=1)
    assert session.execute(add)
    assert pairs(five) == [(1, 2, "pending"), (4, 5, "ready")]
    assert five.transitions.list()[0].to_scene_id == add.scene_id
    session.undo_stack.undo()
    assert [s.id for s in five.scenes.list()] == ids
    fade = five.transitions.list()[0]
    assert (fade.from_scene_id, fade.to_scene_id, fade.duration) == (ids[0], ids[1], 1.0)
    session.undo_stack.redo()
    assert five.transitions.list()[0].to_scene_id == add.scene_id
