"""Issue #12, timeline and animatic: the compact track, one selection with the storyboard,
playback keys, a playhead the track follows, edge drags that show what they do, a preview
that scales with the dock."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.preview_player import PreviewPicture, fitted
from storyboard_app.ui.timeline_dock import TimelinePanel
from storyboard_app.ui.timeline_items import format_seconds
from tests.ui.test_timeline_dock import two_tone_png

# Before #12 the dock opened 418 pixels tall in a 1400x900 window (player beside the track).
DOCK_HEIGHT_BEFORE = 418


@pytest.fixture
def window(make_window: Any, fake_host: Any, story_store: ProjectStore, qtbot: Any) -> Any:
    ids = [scene.id for scene in story_store.scenes.list()]
    for scene_id in ids[:2]:
        story_store.takes.add(scene_id, two_tone_png(), TakeParams(width=64, height=64))
    story_store.transitions.set(ids[0], ids[1], kind="crossfade", duration=0.5)
    folder = story_store.folder
    story_store.close()
    window = make_window(fake_host)
    window.resize(1400, 900)
    assert window.open_project(folder)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def panel_of(window: Any) -> TimelinePanel:
    panel = window.timeline_dock.panel
    assert panel is not None
    return panel


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def test_the_dock_is_one_compact_track(window: Any, qtbot: Any) -> None:
    settle()
    height = window.timeline_dock.height()
    assert height <= DOCK_HEIGHT_BEFORE / 3 + 15, height
    panel = panel_of(window)
    track = panel.track
    top = track.mapToScene(QPoint(0, 0)).y()
    bottom = track.mapToScene(QPoint(0, track.viewport().height())).y()
    for item in track.panel_items():
        assert top <= item.rect().top() and item.rect().bottom() <= bottom, "a clip is cut off"


def test_clips_show_picture_number_duration_and_a_camera_mark(window: Any, qtbot: Any) -> None:
    panel = panel_of(window)
    track = panel.track
    first, second, third, _ = track.panel_items()
    assert first.clip.media is not None and third.clip.media is None
    qtbot.waitUntil(lambda: track.thumbnails.pixmap(first.clip.media) is not None)
    settle()
    image = track.viewport().grab().toImage()
    inside = track.mapFromScene(first.rect().left() + 8, first.rect().center().y())
    pixel = QColor(image.pixel(inside))
    assert pixel.red() > 200 and pixel.blue() < 60, "the clip does not show the panel's picture"
    empty = track.mapFromScene(third.rect().left() + 8, third.rect().center().y())
    assert QColor(image.pixel(empty)).red() < 120
    store = window.workspace.store
    assert first.duration_text == format_seconds(store.scenes.get(first.clip.scene_id).duration)
    assert [item.clip.number for item in track.panel_items()] == [1, 2, 3, 4]
    assert [item.label for item in track.transition_items()] == ["crossfade"]
    assert not second.has_camera_mark
    session = window.workspace.session
    from storyboard_app.ui.camera_dialog import set_camera_move

    assert set_camera_move(session, second.clip.scene_id, CameraMove(end=Framing(zoom=2.0)))
    qtbot.waitUntil(lambda: track.panel_item(second.clip.scene_id).has_camera_mark)
    assert "Camera move" in track.panel_item(second.clip.scene_id).toolTip()


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (4.0, 2.5, 1.25, 0.04)] == ["4s", "2.5s", "1.25s", "0.04s"]


def test_selecting_in_the_grid_selects_the_clip_and_moves_the_preview(
    window: Any, qtbot: Any
) -> None:
    panel = panel_of(window)
    storyboard = window.workspace.storyboard
    ids = window.workspace.storyboard_model.scene_ids()
    storyboard.select_scenes([ids[2]])
    assert panel.track.selected_scene_ids() == [ids[2]]
    clip = panel.timeline.panel_clip(ids[2])
    assert clip is not None and panel.player.frame == clip.start_frame
    assert panel.track.playhead.x() == pytest.approx(panel.track.x_of_frame(clip.start_frame))


def test_clicking_a_clip_selects_the_panel_in_the_grid_and_moves_the_preview(
    window: Any, qtbot: Any
) -> None:
    panel = panel_of(window)
    track = panel.track
    ids = window.workspace.storyboard_model.scene_ids()
    item = track.panel_item(ids[3])
    point = track.mapFromScene(item.rect().center())
    qtbot.mouseClick(track.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert window.workspace.selected_scene_ids() == [ids[3]]
    assert window.workspace.storyboard.current_scene_id() == ids[3]
    assert track.selected_scene_ids() == [ids[3]]
    assert panel.player.frame == item.clip.start_frame
    # A structural edit rebuilds the track; the selection is still the grid's.
    session = window.workspace.session
    from storyboard_app.ui.commands.scenes import AddSceneCommand

    assert session.execute(AddSceneCommand(session, "a gull", 0))
    qtbot.waitUntil(lambda: len(track.panel_items()) == 5)
    assert track.selected_scene_ids() == window.workspace.selected_scene_ids() == [ids[3]]


def test_space_plays_and_pauses_and_jkl_shuttle(window: Any, qtbot: Any) -> None:
    player = panel_of(window).player
    grid = window.workspace.storyboard
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert player.is_playing() and player.rate == 1
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert not player.is_playing()
    for expected in (1, 2, 4, 8, 8):
        qtbot.keyClick(grid, Qt.Key.Key_L)
        assert player.rate == expected
    qtbot.keyClick(grid, Qt.Key.Key_J)
    assert player.rate == -1
    qtbot.keyClick(grid, Qt.Key.Key_J)
    assert player.rate == -2
    qtbot.keyClick(grid, Qt.Key.Key_K)
    assert not player.is_playing() and player.rate == 0


def test_playback_keys_still_type_in_text_fields(window: Any, qtbot: Any) -> None:
    player = panel_of(window).player
    fields = window.workspace.inspector.findChildren(QPlainTextEdit)
    field = next(f for f in fields if f.isVisible() and not f.isReadOnly())
    field.setFocus()
    qtbot.keyClicks(field, "jlk ")
    assert not player.is_playing()
    assert "jlk " in field.toPlainText()


def test_playback_menu_lists_the_timeline_keys_themselves(window: Any, qtbot: Any) -> None:
    """The menu holds the dock's own actions, so Space is one shortcut, not an ambiguous pair."""
    panel = panel_of(window)
    menu = window.actions.playback
    assert menu.isEnabled()
    assert menu.actions() == panel.playback_actions()
    shortcuts = [action.shortcut().toString() for action in menu.actions()]
    assert shortcuts == ["Space", "J", "K", "L"]
    player = panel.player
    menu.actions()[0].trigger()
    assert player.is_playing()
    menu.actions()[0].trigger()
    assert not player.is_playing()
    grid = window.workspace.storyboard
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert player.is_playing(), "Space still plays once the menu lists it"
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert not player.is_playing()
    fields = window.workspace.inspector.findChildren(QPlainTextEdit)
    field = next(f for f in fields if f.isVisible() and not f.isReadOnly())
    field.setFocus()
    qtbot.keyClicks(field, "a b")
    assert "a b" in field.toPlainText() and not player.is_playing()


def test_playback_menu_is_empty_and_disabled_without_a_project(window: Any) -> None:
    assert window.projects.close_project()
    menu = window.actions.playback
    assert window.workspace is None
    assert not menu.isEnabled() and menu.actions() == []


def test_backward_shuttle_runs_back_and_stops_at_the_start(window: Any, qtbot: Any) -> None:
    player = panel_of(window).player
    player.seek(6)
    player.shuttle_backward()
    player.shuttle_backward()
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3000)
    assert player.frame == 0


def test_the_track_follows_the_playhead(window: Any, qtbot: Any) -> None:
    panel = panel_of(window)
    track = panel.track
    track.set_zoom(800)
    track.resize(400, track.height())
    settle()
    last = panel.player.frame_count - 1
    panel.player.seek(last)
    left, right = track.visible_span()
    assert left <= track.playhead.x() <= right
    panel.player.seek(0)
    left, right = track.visible_span()
    assert left <= track.playhead.x() <= right


def test_dragging_an_edge_draws_the_clip_above_its_neighbour_with_its_new_duration(
    window: Any, qtbot: Any
) -> None:
    track = panel_of(window).track
    first, second = track.panel_items()[:2]
    rect = first.rect()
    y = int(rect.center().y())
    viewport = track.viewport()
    start = track.mapFromScene(rect.right() - 1, y)
    end = track.mapFromScene(rect.right() + track.pixels_per_second + 1, y)
    before = first.seconds
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, end)
    assert first.zValue() > second.zValue()
    assert first.duration_text == format_seconds(before + 1.0)
    assert first.rect().right() > second.rect().left()
    inside = track.mapFromScene(rect.right() + track.pixels_per_second - 4, y)
    above = [item for item in track.items(inside) if item in (first, second)]
    assert above[0] is first, "the dragged clip is not drawn over its neighbour"
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    store = window.workspace.store
    assert store.scenes.get(first.clip.scene_id).duration == pytest.approx(before + 1.0)


def test_the_preview_scales_with_the_dock_and_keeps_its_aspect(window: Any, qtbot: Any) -> None:
    panel = panel_of(window)
    picture = panel.player.picture
    settle()
    small = picture.target_rect()
    window.resizeDocks([window.timeline_dock], [400], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: picture.target_rect().height() > small.height() * 2)
    large = picture.target_rect()
    frame = picture.pixmap().size()
    for rect in (small, large):
        assert rect.width() / rect.height() == pytest.approx(frame.width() / frame.height(), 0.03)
        assert picture.rect().contains(rect), "the preview is cropped"


@pytest.mark.parametrize("room", [QSize(300, 60), QSize(80, 300), QSize(160, 90)])
def test_a_frame_fits_any_room_without_cropping(qtbot: Any, room: QSize) -> None:
    widget = PreviewPicture()
    qtbot.addWidget(widget)
    widget.resize(room)
    pixmap = QPixmap(480, 270)
    pixmap.fill(QColor("white"))
    widget.setPixmap(pixmap)
    target = widget.target_rect()
    assert QRect(QPoint(0, 0), room).contains(target)
    assert target.width() == room.width() or target.height() == room.height()
    assert target.width() / target.height() == pytest.approx(480 / 270, 0.05)
    assert fitted(QSize(10, 10), QRect(0, 0, 40, 20)) == QRect(10, 0, 20, 20)


def test_the_ruler_is_readable_on_the_dark_theme(qtbot: Any, story_store: ProjectStore) -> None:
    from PySide6.QtWidgets import QGraphicsSimpleTextItem

    from storyboard_app.ui.project_session import ProjectSession
    from storyboard_app.ui.theme import dark_palette
    from storyboard_app.ui.timeline_view import TimelineView

    view = TimelineView(ProjectSession(story_store))
    qtbot.addWidget(view)

    def label_lightness() -> int:
        labels = [i for i in view.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]
        assert labels
        return min(label.brush().color().lightness() for label in labels)

    assert label_lightness() < 128
    view.setPalette(dark_palette())
    qtbot.waitUntil(lambda: label_lightness() > 128)
