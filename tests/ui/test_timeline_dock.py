"""The timeline track, the preview player and camera moves: built from the store, edited
through undo commands."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import build_timeline
from storyboard_app.ui.camera_dialog import CameraMoveDialog, set_camera_move
from storyboard_app.ui.preview_player import PreviewPlayer
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_view import TimelineView, snap_duration


@pytest.fixture
def session(qapp: Any, story_store: ProjectStore) -> ProjectSession:
    return ProjectSession(story_store)


@pytest.fixture
def timeline(qtbot: Any, session: ProjectSession) -> TimelineView:
    view = TimelineView(session)
    qtbot.addWidget(view)
    view.resize(900, 140)
    view.show()
    return view


def test_clip_widths_match_durations(timeline: TimelineView, session: ProjectSession) -> None:
    scenes = session.store.scenes.list()
    session.store.scenes.update(scenes[1].id, duration=3.5)
    timeline.refresh()
    widths = [item.rect().width() for item in timeline.panel_items()]
    expected = [s.duration * timeline.pixels_per_second for s in session.store.scenes.list()]
    assert widths == pytest.approx(expected)
    timeline.zoom_in()
    wider = [item.rect().width() for item in timeline.panel_items()]
    assert wider[1] == pytest.approx(3.5 * timeline.pixels_per_second)


def test_snapping_prefers_quarter_seconds_then_frames() -> None:
    assert snap_duration(1.27, 24, 80) == 1.25
    assert snap_duration(1.37, 24, 80) == pytest.approx(33 / 24)


def drag(qtbot: Any, view: TimelineView, start: QPoint, end: QPoint) -> None:
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def test_dragging_an_edge_changes_duration_and_undo_restores_it(
    qtbot: Any, timeline: TimelineView, session: ProjectSession
) -> None:
    first = timeline.panel_items()[0]
    scene_id = first.clip.scene_id
    before = session.store.scenes.get(scene_id).duration
    rect = first.rect()
    y = int(rect.center().y())
    start = timeline.mapFromScene(rect.right() - 1, y)
    end = timeline.mapFromScene(rect.right() + timeline.pixels_per_second + 1, y)
    drag(qtbot, timeline, start, end)
    assert session.store.scenes.get(scene_id).duration == pytest.approx(before + 1.0)
    wait_for_width(qtbot, timeline, scene_id, before + 1.0)
    session.undo_stack.undo()
    assert session.store.scenes.get(scene_id).duration == pytest.approx(before)
    wait_for_width(qtbot, timeline, scene_id, before)


def wait_for_width(qtbot: Any, view: TimelineView, scene_id: int, seconds: float) -> None:
    """The track rebuilds on the next turn of the event loop after an edit."""
    expected = seconds * view.pixels_per_second
    qtbot.waitUntil(lambda: abs(view.panel_item(scene_id).rect().width() - expected) < 1e-6)


def test_stale_transitions_are_marked(timeline: TimelineView, session: ProjectSession) -> None:
    store = session.store
    first, second, third = store.scenes.list()[:3]
    fade = store.transitions.set(first.id, second.id, kind="crossfade", duration=0.5)
    store.transitions.set_result(fade.id, "ready")
    old = store.transitions.set(second.id, third.id, kind="morph", duration=0.5)
    store.transitions.set_result(old.id, "stale")
    timeline.refresh()
    marks = {item.transition_id: item for item in timeline.transition_items()}
    assert not marks[fade.id].stale
    assert marks[fade.id].rect().width() == pytest.approx(0.5 * timeline.pixels_per_second)
    assert marks[old.id].stale


@pytest.fixture
def player(qtbot: Any, session: ProjectSession) -> PreviewPlayer:
    widget = PreviewPlayer(session)
    qtbot.addWidget(widget)
    return widget


def test_play_advances_frames_and_loop_wraps(qtbot: Any, player: PreviewPlayer) -> None:
    assert player.frame_count > 0
    assert player.picture.pixmap().width() == 480
    player.play()
    qtbot.waitUntil(lambda: player.frame >= 2, timeout=3000)
    player.pause()
    player.set_loop(True)
    player.seek(player.frame_count - 1)
    player.step()
    assert player.frame == 0
    player.set_loop(False)
    player.seek(player.frame_count - 3)
    player.play()
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3000)
    assert player.frame == player.frame_count - 1


def test_scrubbing_moves_the_playhead(player: PreviewPlayer, timeline: TimelineView) -> None:
    player.frameChanged.connect(timeline.set_frame)
    player.slider.setValue(30)
    assert player.frame == 30
    assert timeline.playhead.x() == pytest.approx(timeline.x_of_frame(30))


def two_tone_png() -> bytes:
    """A picture whose framing shows: red on the left half, blue on the right."""
    image = Image.new("RGB", (64, 64), "red")
    image.paste((0, 0, 255), (32, 0, 64, 64))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_set_a_camera_move_from_the_dialog_and_undo(
    qtbot: Any, session: ProjectSession, player: PreviewPlayer
) -> None:
    scene = session.store.scenes.list()[0]
    session.store.takes.add(scene.id, two_tone_png(), TakeParams(width=64, height=64))
    player.invalidate()
    dialog = CameraMoveDialog(scene.camera_move, scene.number)
    qtbot.addWidget(dialog)
    assert dialog.move() is None
    dialog.enabled.setChecked(True)
    dialog.end.zoom.setValue(2.0)
    dialog.end.center_x.setValue(0.25)
    dialog.set_easing("linear")
    move = dialog.move()
    assert move == CameraMove(end=Framing(0.25, 0.5, 2.0), easing="linear")
    end_of_panel = build_timeline(session.store).panels[0].end_frame - 1
    player.seek(end_of_panel)
    still = player.picture.pixmap().toImage()
    assert set_camera_move(session, scene.id, move)
    assert session.store.scenes.get(scene.id).camera_move == move
    player.seek(end_of_panel)
    assert player.picture.pixmap().toImage() != still
    session.undo_stack.undo()
    assert session.store.scenes.get(scene.id).camera_move is None
    session.undo_stack.redo()
    assert session.store.scenes.get(scene.id).camera_move == move


def test_two_quick_drags_are_two_undo_steps(
    timeline: TimelineView, session: ProjectSession
) -> None:
    scene_id = timeline.panel_items()[0].clip.scene_id
    before = session.store.scenes.get(scene_id).duration
    timeline.set_duration(scene_id, 2.5)
    timeline.set_duration(scene_id, 3.0)
    session.undo_stack.undo()
    assert session.store.scenes.get(scene_id).duration == 2.5
    session.undo_stack.undo()
    assert session.store.scenes.get(scene_id).duration == before


def test_the_main_window_shows_the_open_projects_timeline(
    make_window: Any, fake_host: Any, story_store: ProjectStore, qtbot: Any
) -> None:
    folder = story_store.folder
    story_store.close()
    window = make_window(fake_host)
    assert not window.timeline_dock.isVisible()
    assert window.open_project(folder)
    panel = window.timeline_dock.panel
    assert panel is not None and window.timeline_dock.isVisible()
    assert len(panel.track.panel_items()) == 4
    panel.track.panel_items()[1].setSelected(True)
    assert window.workspace.selected_scene_ids() == [panel.track.panel_items()[1].clip.scene_id]
    panel.player.seek(10)
    assert panel.track.playhead.x() == pytest.approx(panel.track.x_of_frame(10))


def give_pictures(store: ProjectStore, count: int = 2) -> list[int]:
    ids = [scene.id for scene in store.scenes.list()[:count]]
    for scene_id in ids:
        store.takes.add(scene_id, two_tone_png(), TakeParams(width=64, height=64))
    return ids


def test_generate_transition_for_two_neighbours(
    qtbot: Any, story_store: ProjectStore, make_window: Any, fake_host: Any
) -> None:
    first, second = give_pictures(story_store)
    folder = story_store.folder
    story_store.close()
    window = make_window(fake_host)
    assert window.open_project(folder)
    panel = window.timeline_dock.panel
    panel.track.panel_item(first).setSelected(True)
    panel.track.panel_item(second).setSelected(True)
    assert panel.neighbour_pair() == (first, second)
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("crossfade"))
    job = panel.generate_transition()
    assert job is not None and panel.progress_action.isVisible()
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: panel.job is None)
    store = window.workspace.store
    (transition,) = store.transitions.list()
    assert (transition.kind, transition.status) == ("crossfade", "ready")
    qtbot.waitUntil(lambda: [i.kind for i in panel.track.transition_items()] == ["crossfade"])
    assert not panel.progress_action.isVisible()


def test_a_cancelled_transition_stores_nothing(qtbot: Any, story_store: ProjectStore) -> None:
    from storyboard_app.worker.transition_jobs import TransitionJob, TransitionJobState

    first, second = give_pictures(story_store)
    job = TransitionJob(story_store, first, second, "morph")
    job.cancel()
    with qtbot.waitSignal(job.cancelled, timeout=10_000):
        job.start()
    assert job.state is TransitionJobState.CANCELLED
    assert story_store.transitions.list() == []


def test_a_failed_transition_is_recorded_as_failed(
    qtbot: Any, story_store: ProjectStore, monkeypatch: Any
) -> None:
    from storyboard_app.worker import transition_jobs

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("flow estimation ran out of memory")

    monkeypatch.setattr(transition_jobs, "make_transition_frames", broken)
    first, second = give_pictures(story_store)
    job = transition_jobs.TransitionJob(story_store, first, second, "morph")
    with qtbot.waitSignal(job.failed, timeout=10_000) as failed:
        job.start()
    assert "ran out of memory" in failed.args[0].message
    (transition,) = story_store.transitions.list()
    assert transition.status == "failed"
    assert "ran out of memory" in transition.settings["error"]


def test_panels_that_are_not_neighbours_are_refused(
    qtbot: Any, story_store: ProjectStore, make_window: Any, fake_host: Any
) -> None:
    folder = story_store.folder
    story_store.close()
    window = make_window(fake_host)
    assert window.open_project(folder)
    panel = window.timeline_dock.panel
    items = panel.track.panel_items()
    items[0].setSelected(True)
    items[2].setSelected(True)
    assert panel.neighbour_pair() is None
    assert panel.generate_transition() is None


def test_double_clicking_a_clip_asks_for_its_camera_move(
    qtbot: Any, timeline: TimelineView
) -> None:
    item = timeline.panel_items()[1]
    point = timeline.mapFromScene(item.rect().center())
    with qtbot.waitSignal(timeline.clipActivated) as activated:
        qtbot.mouseDClick(timeline.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert activated.args == [item.clip.scene_id]
