"""Issue #11: the editor never surprises an artist (wheel, stale messages, layout, undo)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QTextCursor, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QMessageBox,
    QPushButton,
    QSlider,
    QWidget,
)

from storyboard_app.ui.camera_dialog import CameraMoveDialog
from storyboard_app.ui.export_dialog import ExportDialog
from storyboard_app.ui.main_window import INSPECTOR_DOCK_MIN_WIDTH, MainWindow
from storyboard_app.worker.fake_engine import FakeEngine


def _wheel(widget: QWidget, steps: int = -1) -> None:
    """One notch of the mouse wheel over the middle of ``widget`` (down when negative)."""
    pos = QPointF(widget.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _first_scene(window: MainWindow) -> int:
    workspace = window.workspace
    assert workspace is not None
    scene_id = workspace.store.scenes.list()[0].id
    workspace.storyboard.select_scenes([scene_id])
    return scene_id


def _value_widgets(root: QWidget) -> list[QWidget]:
    kinds = (QAbstractSpinBox, QComboBox, QSlider)
    return [w for w in root.findChildren(QWidget) if isinstance(w, kinds)]


def test_scrolling_the_inspector_over_a_spin_box_scrolls_instead_of_editing(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    scene_id = _first_scene(opened)
    opened.resize(1100, 420)
    inspector = workspace.inspector
    duration = inspector.fields.duration
    qtbot.waitUntil(lambda: inspector.verticalScrollBar().maximum() > 0)
    before = workspace.store.scenes.get(scene_id).duration
    workspace.storyboard.setFocus()
    assert not duration.hasFocus()
    scrolled = inspector.verticalScrollBar().value()
    _wheel(duration)
    assert duration.value() == before
    assert workspace.store.scenes.get(scene_id).duration == before
    assert inspector.verticalScrollBar().value() > scrolled
    assert duration.focusPolicy() == Qt.FocusPolicy.StrongFocus
    # Clicked into (focused), the spin box takes the wheel as before.
    duration.setFocus()
    qtbot.waitUntil(duration.hasFocus)
    _wheel(duration, steps=+1)
    assert workspace.store.scenes.get(scene_id).duration != before


def test_every_form_guards_its_value_widgets_from_the_wheel(qtbot: Any, opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    settings = opened.open_settings()
    assert settings is not None
    export = ExportDialog(workspace.store.folder, opened)
    camera = CameraMoveDialog(None, 1, opened)
    for dialog in (settings, export, camera):
        qtbot.addWidget(dialog)
    roots: list[QWidget] = [workspace.inspector, workspace.characters_panel, settings, export]
    roots.append(camera)
    for root in roots:
        widgets = _value_widgets(root)
        for widget in widgets:
            assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus, (root, widget)
            value = widget.value() if hasattr(widget, "value") else widget.currentIndex()
            _wheel(widget)
            after = widget.value() if hasattr(widget, "value") else widget.currentIndex()
            assert after == value, (root, widget)


def test_a_refused_tag_message_goes_away_once_the_tag_is_fixed(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    _first_scene(opened)
    prompt = workspace.inspector.fields.prompt
    prompt.setPlainText("[Mra] climbs the lighthouse stairs")
    prompt.commit()
    assert opened.messages.isVisible()
    assert "Mra" in opened.messages.text.text()
    prompt.setPlainText("[Mara] climbs the lighthouse stairs, fast")
    prompt.commit()
    assert not opened.messages.isVisible()
    assert workspace.store.scenes.list()[0].prompt.endswith("fast")


def test_a_refused_tag_message_goes_away_when_the_text_is_put_back(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    _first_scene(opened)
    prompt = workspace.inspector.fields.prompt
    prompt.setPlainText("[Mra] climbs the lighthouse stairs")
    prompt.commit()
    assert opened.messages.isVisible()
    prompt.setPlainText("[Mara] climbs the lighthouse stairs")
    prompt.commit()
    assert not opened.messages.isVisible()


def test_an_unrelated_message_stays_when_another_edit_succeeds(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    _first_scene(opened)
    prompt = workspace.inspector.fields.prompt
    prompt.setPlainText("[Mra] climbs the lighthouse stairs")
    prompt.commit()
    workspace.inspector.fields.caption.setPlainText("Up, up.")
    workspace.inspector.fields.caption.commit()
    assert opened.messages.isVisible()


def test_docks_cannot_be_squeezed_narrower_than_usable(qtbot: Any, opened: MainWindow) -> None:
    opened.resize(700, 500)
    opened.resizeDocks([opened.inspector_dock], [40], Qt.Orientation.Horizontal)
    opened.showMaximized()
    qtbot.wait(20)
    assert opened.inspector_dock.width() >= INSPECTOR_DOCK_MIN_WIDTH
    assert opened.characters_dock.minimumWidth() > 100
    assert opened.timeline_dock.minimumHeight() > 60


def test_reset_layout_restores_the_docks_and_forgets_the_saved_state(
    qtbot: Any, opened: MainWindow, settings_file: QSettings
) -> None:
    opened.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, opened.inspector_dock)
    opened.timeline_dock.setFloating(True)
    opened.app_settings.save_window(opened)
    assert settings_file.contains("window/state")
    assert "Reset" in opened.actions.reset_layout.text().replace("&", "")
    opened.actions.reset_layout.trigger()
    area = opened.dockWidgetArea
    assert area(opened.inspector_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert area(opened.characters_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert area(opened.timeline_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert not opened.timeline_dock.isFloating()
    assert opened.inspector_dock.isVisible()
    assert not settings_file.contains("window/state")
    assert not settings_file.contains("window/geometry")


def test_undoing_typing_inside_a_field_leaves_no_empty_undo_step(
    qtbot: Any, opened: MainWindow
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    scene_id = _first_scene(opened)
    stack = workspace.session.undo_stack
    steps = stack.count()
    caption = workspace.inspector.fields.caption
    caption.setFocus()
    caption.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(caption, " Fast.")
    caption.commit()
    assert workspace.store.scenes.get(scene_id).caption == "Up she goes. Fast."
    assert stack.count() == steps + 1
    while caption.toPlainText() != "Up she goes." and caption.document().isUndoAvailable():
        qtbot.keyClick(caption, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert caption.toPlainText() == "Up she goes."
    caption.commit()
    assert workspace.store.scenes.get(scene_id).caption == "Up she goes."
    assert stack.count() == steps, [stack.text(i) for i in range(stack.count())]


def test_a_long_model_message_wraps_and_the_settings_dialog_grows(
    qtbot: Any, run_async: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    source = "/models/" + "a-rather-long-folder-name/" * 6 + "missing.safetensors"
    fake_engine.failing_sources.add(source)
    dialog = opened.open_settings()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    run_async(dialog.model.check_now())
    run_async(dialog.detect_gpu())
    dialog.model.edit.setText(source)
    run_async(dialog.model.check_now())
    qtbot.wait(20)
    status = dialog.model.status
    assert status.wordWrap() and dialog.detected.wordWrap()
    assert status.text().startswith("✗")
    assert status.width() <= dialog.width()
    assert status.height() >= status.heightForWidth(status.width())
    assert dialog.model.edit.height() >= dialog.model.edit.minimumSizeHint().height()


def _answer(qtbot: Any, button: str) -> None:
    """Click ``button`` (an object name, or "cancel") in the question box once it is up."""

    def click() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
        visible = [box for box in boxes if box.isVisible()]
        if not visible:
            QTimer.singleShot(10, click)
            return
        box = visible[0]
        if button == "cancel":
            target = box.button(QMessageBox.StandardButton.Cancel)
        else:
            target = box.findChild(QPushButton, button)
        assert target is not None
        target.click()

    QTimer.singleShot(0, click)


def _select_character(window: MainWindow, name: str) -> Any:
    workspace = window.workspace
    assert workspace is not None
    panel = workspace.characters_panel
    character = workspace.store.characters.get(name)
    panel.select_character(character.id)
    assert panel.editor.name.text() == name
    return panel


def _prompts(window: MainWindow) -> list[str]:
    assert window.workspace is not None
    return [scene.prompt for scene in window.workspace.store.scenes.list()]


def test_deleting_a_used_character_can_remove_its_tags_undoably(
    qtbot: Any, opened: MainWindow
) -> None:
    before = _prompts(opened)
    panel = _select_character(opened, "Mara")
    _answer(qtbot, "untagButton")
    panel.delete_current()
    assert opened.workspace is not None
    names = [c.name for c in opened.workspace.store.characters.list()]
    assert names == ["Bob"]
    assert _prompts(opened)[0] == "Mara climbs the lighthouse stairs"
    assert _prompts(opened)[2] == "Mara and [Bob] look at the sea"
    opened.actions.undo.trigger()
    assert _prompts(opened) == before
    assert [c.name for c in opened.workspace.store.characters.list()] == ["Mara", "Bob"]


def test_deleting_a_used_character_can_keep_the_text_or_be_cancelled(
    qtbot: Any, opened: MainWindow
) -> None:
    before = _prompts(opened)
    panel = _select_character(opened, "Mara")
    _answer(qtbot, "cancel")
    panel.delete_current()
    assert opened.workspace is not None
    assert len(opened.workspace.store.characters.list()) == 2
    _answer(qtbot, "keepButton")
    panel.delete_current()
    assert [c.name for c in opened.workspace.store.characters.list()] == ["Bob"]
    assert _prompts(opened) == before


def test_the_character_form_never_shows_a_deleted_character(qtbot: Any, opened: MainWindow) -> None:
    panel = _select_character(opened, "Mara")
    _answer(qtbot, "keepButton")
    panel.delete_current()
    shown = panel.editor.name.text()
    assert shown != "Mara"
    current = panel.current_character()
    assert shown == (current.name if current is not None else "")
