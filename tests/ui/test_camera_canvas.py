"""Issue #12: the camera move is edited on the picture (start and end frames dragged and
resized over the panel), with the easing from a list, previewed live, numbers in step."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPixmap

from storyboard_app.project.camera import EASINGS, MAX_ZOOM, CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.camera_canvas import framing_of, rect_of, resized
from storyboard_app.ui.camera_dialog import CameraMoveDialog, camera_dialog_for
from storyboard_app.ui.project_session import ProjectSession
from tests.ui.test_timeline_dock import two_tone_png

PICTURE = QRectF(10, 10, 320, 180)


def two_tone_pixmap() -> QPixmap:
    image = QImage(320, 180, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    for x in range(160, 320):
        for y in range(180):
            image.setPixelColor(x, y, QColor("blue"))
    return QPixmap.fromImage(image)


@pytest.fixture
def dialog(qtbot: Any) -> CameraMoveDialog:
    widget = CameraMoveDialog(None, 3, thumbnail=two_tone_pixmap(), seconds=2.0)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drag(qtbot: Any, widget: Any, start: QPointF, end: QPointF) -> None:
    a, b = start.toPoint(), end.toPoint()
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(widget, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=b)


@pytest.mark.parametrize(
    "framing", [Framing(), Framing(0.25, 0.5, 2.0), Framing(0.8, 0.3, 4.0), Framing(0.5, 0.5, 8)]
)
def test_a_framing_and_its_rectangle_are_the_same(framing: Framing) -> None:
    rect = rect_of(framing, PICTURE)
    assert rect.width() / rect.height() == pytest.approx(PICTURE.width() / PICTURE.height())
    assert framing_of(rect, PICTURE) == framing


def test_resizing_keeps_the_aspect_the_picture_and_the_zoom_range() -> None:
    anchor = QPointF(PICTURE.left(), PICTURE.top())
    for mouse in (QPointF(500, 400), QPointF(12, 11), QPointF(200, 30), QPointF(-50, -50)):
        rect = resized(anchor, mouse, PICTURE)
        assert rect.width() / rect.height() == pytest.approx(16 / 9)
        assert PICTURE.adjusted(-1e-6, -1e-6, 1e-6, 1e-6).contains(rect)
        assert 1.0 <= framing_of(rect, PICTURE).zoom <= MAX_ZOOM


def test_dragging_a_corner_zooms_and_dragging_inside_pans(
    qtbot: Any, dialog: CameraMoveDialog
) -> None:
    canvas = dialog.canvas
    assert dialog.move() is None
    end = canvas.frame_rect("end")
    drag(qtbot, canvas, end.bottomRight(), end.center())
    framing = canvas.framing("end")
    assert framing.zoom == pytest.approx(2.0, abs=0.05)
    assert dialog.move() is not None, "editing the frame turns the move on"
    assert dialog.end.zoom.value() == pytest.approx(framing.zoom, abs=0.01)
    assert (framing.center_x, framing.center_y) == pytest.approx((0.25, 0.25), abs=0.02)
    moved = canvas.frame_rect("end")
    drag(qtbot, canvas, moved.center(), moved.center() + QPointF(moved.width() / 2, 0))
    after = canvas.framing("end")
    assert after.center_x == pytest.approx(0.5, abs=0.02) and after.zoom == framing.zoom
    assert dialog.end.center_x.value() == pytest.approx(after.center_x, abs=0.01)
    assert canvas.framing("start") == Framing()


def test_the_frames_never_leave_the_picture(qtbot: Any, dialog: CameraMoveDialog) -> None:
    canvas = dialog.canvas
    end = canvas.frame_rect("end")
    drag(qtbot, canvas, end.bottomRight(), end.center())
    small = canvas.frame_rect("end")
    drag(qtbot, canvas, small.center(), QPointF(-200, -200))
    corner, picture = canvas.frame_rect("end").topLeft(), canvas.picture_rect().topLeft()
    assert (corner.x(), corner.y()) == pytest.approx((picture.x(), picture.y()), abs=0.5)
    assert canvas.framing("end").zoom == pytest.approx(2.0, abs=0.05)


def test_numbers_move_the_frames(dialog: CameraMoveDialog) -> None:
    dialog.start.zoom.setValue(4.0)
    dialog.start.center_x.setValue(1.0)
    rect = dialog.canvas.frame_rect("start")
    picture = dialog.canvas.picture_rect()
    assert rect.width() == pytest.approx(picture.width() / 4)
    assert rect.right() == pytest.approx(picture.right())
    assert dialog.move() == CameraMove(start=Framing(1.0, 0.5, 4.0))


def test_easing_is_chosen_from_a_list_and_previewed_live(dialog: CameraMoveDialog) -> None:
    names = [dialog.easing.itemData(i) for i in range(dialog.easing.count())]
    assert names == list(EASINGS)
    assert all(not dialog.easing.itemIcon(i).isNull() for i in range(dialog.easing.count()))
    assert dialog.preview.is_playing()
    dialog.end.zoom.setValue(2.0)
    dialog.end.center_x.setValue(0.0)
    dialog.set_easing("ease_in")
    preview = dialog.preview
    preview.show_at(1.0)
    assert preview.framing() == dialog.canvas.framing("end")
    end_picture = preview.grab().toImage()
    middle = end_picture.pixelColor(end_picture.width() // 2, end_picture.height() // 2)
    assert middle.red() > 200 and middle.blue() < 60, "the end frame (left half) is not shown"
    preview.show_at(0.5)
    assert preview.framing() == dialog.move().framing_at(0.5)
    assert preview.framing().zoom == pytest.approx(2**0.25, abs=1e-6)  # ease_in: s = 0.25
    dialog.enabled.setChecked(False)
    assert preview.framing() == Framing()


def test_the_dialog_shows_the_panels_picture(qtbot: Any, story_store: ProjectStore) -> None:
    scene = story_store.scenes.list()[0]
    story_store.takes.add(scene.id, two_tone_png(), TakeParams(width=64, height=64))
    session = ProjectSession(story_store)
    dialog = camera_dialog_for(session, scene.id)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.canvas.has_picture)
    canvas = dialog.canvas
    canvas.resize(400, 400)
    picture = canvas.picture_rect()
    assert picture.width() == pytest.approx(picture.height())  # the picture is square
    image = canvas.grab().toImage()
    left = image.pixelColor(int(picture.left() + picture.width() / 4), int(picture.center().y()))
    assert left.red() > 200 and left.blue() < 60
    dialog.done(0)
