"""Issue #11 item 8: a long model-check message is shown whole; the settings dialog scrolls."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractSpinBox, QLabel, QScrollArea, QWidget

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.settings_dialog import SettingsDialog
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost

LONG_SOURCE = "/models/" + "a folder with a rather long name that wraps/" * 8 + "gone.safetensors"


@pytest.fixture
def dialog(
    qtbot: Any,
    run_async: Any,
    make_window: Any,
    fake_host: EngineHost,
    fake_engine: FakeEngine,
    store: ProjectStore,
) -> SettingsDialog:
    window: MainWindow = make_window(fake_host)
    assert window.open_project(store.folder)
    fake_engine.failing_sources.add(LONG_SOURCE)
    opened = window.open_settings()
    assert opened is not None
    qtbot.waitExposed(opened)
    run_async(opened.detect_gpu())
    opened.model.edit.setText(LONG_SOURCE)
    run_async(opened.model.check_now())
    qtbot.wait(20)
    return opened


def shown_rect(widget: QWidget) -> QRect:
    """The part of ``widget`` that is not cut off by any widget it sits in."""
    rect = QRect(widget.mapTo(widget.window(), widget.rect().topLeft()), widget.size())
    parent = widget.parentWidget()
    while parent is not None:
        top_left = parent.mapTo(parent.window(), parent.rect().topLeft())
        rect = rect.intersected(QRect(top_left, parent.size()))
        parent = parent.parentWidget()
    return rect


def scroll_to(scroll: QScrollArea, widget: QWidget) -> None:
    """Scroll so that the bottom of ``widget`` is at the bottom of the view (or above it)."""
    content = scroll.widget()
    bottom = widget.mapTo(content, widget.rect().bottomLeft()).y()
    bar = scroll.verticalScrollBar()
    bar.setValue(max(0, bottom + 1 - scroll.viewport().height()))


def assert_whole(label: QLabel) -> None:
    needed = label.heightForWidth(label.width())
    assert label.height() >= needed, (label.height(), needed)
    assert shown_rect(label).height() == label.height(), "the label is cut off"


def test_a_long_model_message_is_shown_whole_and_the_fields_keep_their_size(
    dialog: SettingsDialog,
) -> None:
    status = dialog.model.status
    assert status.text().startswith("✗") and LONG_SOURCE in status.text()
    scroll = dialog.findChild(QScrollArea)
    if scroll is not None:  # a screen too short for the whole form: it scrolls
        scroll_to(scroll, status)
    assert_whole(status)
    for box in dialog.findChildren(QAbstractSpinBox):
        assert box.height() >= box.minimumSizeHint().height(), box


def test_a_dialog_too_small_for_its_content_scrolls_to_every_field(
    qtbot: Any, dialog: SettingsDialog
) -> None:
    dialog.resize(dialog.width(), 240)
    qtbot.wait(20)
    scroll = dialog.findChild(QScrollArea)
    assert scroll is not None
    assert scroll.verticalScrollBar().maximum() > 0
    for widget in (dialog.model.status, dialog.identity_images):
        scroll_to(scroll, widget)
        assert shown_rect(widget).height() == widget.height(), widget
