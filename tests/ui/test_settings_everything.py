"""The Settings dialog holds every project setting, explained, applied as one undo step;
and the light / dark / system theme."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget

from storyboard_app.project.settings import ConsistencySettings, ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui import theme as theme_module
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.message_bar import Severity, UserMessage
from storyboard_app.ui.settings_dialog import SettingsDialog
from storyboard_app.ui.theme import ThemeChoice, ThemeManager, is_dark
from storyboard_app.worker.host import EngineHost

# Each setting and the dialog's field for it.
FIELDS = {
    "model_source": "model",
    "width": "width_box",
    "height": "height_box",
    "aspect_ratio": "aspect",
    "steps": "steps",
    "guidance": "guidance",
    "scheduler": "scheduler",
    "style_preset": "style_words",
    "base_seed": "seed",
    "frame_rate": "frame_rate",
    "identity_cache_precision": "cache_precision",
    "identity_cache_budget_gb": "cache_budget",
    "freeu": "freeu",
    "style": "style",
    "sampling_rate": "sampling_rate",
    "sampling_rate_high_res": "sampling_rate_high_res",
    "window_size": "window_size",
    "identity_images": "identity_images",
    "blocks": "blocks",
    "share_between_panels": "share_between_panels",
    "shot_in_prompt": "shot_in_prompt",
}


@pytest.fixture
def opened(make_window: Any, fake_host: EngineHost, story_store: ProjectStore) -> MainWindow:
    story_store.rename("The Lighthouse")
    window: MainWindow = make_window(fake_host)
    assert window.open_project(story_store.folder)
    return window


def open_dialog(qtbot: Any, run_async: Any, window: MainWindow) -> SettingsDialog:
    dialog = window.open_settings()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    run_async(dialog.detect_gpu())
    return dialog


def test_every_project_setting_has_an_explained_field(
    qtbot: Any, run_async: Any, opened: MainWindow
) -> None:
    names = [f.name for f in dataclasses.fields(ProjectSettings) if f.name != "consistency"]
    names += [f.name for f in dataclasses.fields(ConsistencySettings)]
    assert sorted(names) == sorted(FIELDS), "a setting without a field in the dialog"
    dialog = open_dialog(qtbot, run_async, opened)
    for name, attribute in FIELDS.items():
        widget: QWidget = getattr(dialog, attribute)
        explanation = widget.toolTip()
        assert explanation and len(explanation) < 120, name  # one line, not a manual
    assert dialog.title.text() == "The Lighthouse" and dialog.title.toolTip()
    dialog.reject()


def test_the_aspect_ratio_fits_the_size_and_shows_it(
    qtbot: Any, run_async: Any, opened: MainWindow
) -> None:
    dialog = open_dialog(qtbot, run_async, opened)
    dialog.width_box.setValue(640)
    dialog.aspect.setCurrentIndex(dialog.aspect.findData("16:9"))
    assert (dialog.width_box.value(), dialog.height_box.value()) == (0, 0)
    assert dialog.size_summary.text() == (
        "Renders SDXL 1344x768 (1.03 MP); SD 1.5 680x384 (0.26 MP)."
    )
    dialog.width_box.setValue(800)
    dialog.height_box.setValue(448)
    assert "SDXL 800x448" in dialog.size_summary.text()
    dialog.fit_button.click()
    assert dialog.width_box.value() == 0
    dialog.reject()


def safetensors_file(path: Path) -> Path:
    header = b'{"__metadata__": {}}'
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def test_all_changes_of_one_dialog_are_one_undo_step(
    qtbot: Any, run_async: Any, opened: MainWindow, tmp_path: Path
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    store = workspace.store
    before = store.settings()
    dialog = open_dialog(qtbot, run_async, opened)
    dialog.title.setText("The Lighthouse, part 2")
    dialog.guidance.setValue(7.5)
    dialog.scheduler.setCurrentIndex(dialog.scheduler.findData("dpmpp_2m_karras"))
    dialog.frame_rate.setValue(12)
    dialog.aspect.setCurrentIndex(dialog.aspect.findData("2.39:1"))
    dialog.sampling_rate.setValue(0.3)
    dialog.identity_images.setValue(3)
    dialog.share_between_panels.setChecked(True)
    dialog.freeu.setChecked(True)
    dialog.style_words.setText("pencil sketch")
    dialog.seed.setText("99")
    with qtbot.waitSignal(dialog.lora_list.file_done, timeout=10_000) as added:
        dialog.lora_list.add_file(safetensors_file(tmp_path / "ink.safetensors"))
    assert added.args == [True]
    count = workspace.session.undo_stack.count()
    dialog.accept()
    after = store.settings()
    assert (after.guidance, after.scheduler, after.frame_rate) == (7.5, "dpmpp_2m_karras", 12)
    assert after.aspect_ratio == "2.39:1" and after.render_size("sdxl") == (1536, 640)
    assert after.consistency.sampling_rate == 0.3 and after.consistency.identity_images == 3
    assert after.consistency.share_between_panels and after.freeu == "on"
    assert (after.style_preset, after.base_seed) == ("pencil sketch", 99)
    assert [lora.name for lora in store.loras.list()] == ["ink"]
    assert store.name == "The Lighthouse, part 2"
    assert opened.windowTitle().startswith("The Lighthouse, part 2 — ")
    stack = workspace.session.undo_stack
    assert stack.count() == count + 1 and stack.undoText() == "Change settings"
    stack.undo()
    assert (
        store.settings() == before and store.loras.list() == [] and store.name == "The Lighthouse"
    )
    assert opened.windowTitle().startswith("The Lighthouse — ")
    stack.redo()
    assert store.settings() == after and store.name == "The Lighthouse, part 2"


def test_a_bad_value_keeps_the_dialog_open_with_the_fix(
    qtbot: Any, run_async: Any, opened: MainWindow
) -> None:
    dialog = open_dialog(qtbot, run_async, opened)
    dialog.blocks.setText(" , ")
    dialog.accept()
    assert dialog.isVisible()
    assert "No UNet blocks" in dialog.error.text() and "up_blocks" in dialog.error.text()
    dialog.blocks.setText("up_blocks.0")
    dialog.accept()
    assert not dialog.isVisible()
    assert opened.workspace.store.settings().consistency.blocks == ("up_blocks.0",)


@pytest.fixture
def restore_look(qapp: QApplication) -> Any:
    """A theme test leaves the application's look as it found it."""
    style, palette = qapp.style().name(), qapp.palette()
    yield
    qapp.setStyle(style)
    qapp.setPalette(palette)


def test_the_theme_is_chosen_in_settings_or_the_view_menu_and_remembered(
    qtbot: Any, run_async: Any, opened: MainWindow, restore_look: Any
) -> None:
    assert opened.app_settings.theme() is ThemeChoice.SYSTEM
    assert opened.actions.themes[ThemeChoice.SYSTEM].isChecked()
    dialog = open_dialog(qtbot, run_async, opened)
    assert dialog.theme.currentData() == "system"
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    app = QApplication.instance()
    assert app.style().name().lower() == "fusion" and is_dark(app.palette())
    assert opened.app_settings.theme() is ThemeChoice.DARK
    assert opened.actions.themes[ThemeChoice.DARK].isChecked()
    opened.actions.themes[ThemeChoice.LIGHT].trigger()
    assert not is_dark(app.palette()) and opened.app_settings.theme() is ThemeChoice.LIGHT


def test_messages_stay_readable_on_the_dark_theme(
    qtbot: Any, opened: MainWindow, restore_look: Any
) -> None:
    opened.show_message(UserMessage(Severity.ERROR, "The model did not load.", "Choose another."))
    assert "#fdecea" in opened.messages.styleSheet()  # light background, dark text
    opened.actions.themes[ThemeChoice.DARK].trigger()
    qtbot.waitUntil(lambda: "#4a1f1c" in opened.messages.styleSheet())
    assert "color: #fbe3e0" in opened.messages.styleSheet()
    opened.actions.themes[ThemeChoice.LIGHT].trigger()
    qtbot.waitUntil(lambda: "#fdecea" in opened.messages.styleSheet())


def test_following_the_system_tracks_its_scheme(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch, restore_look: Any
) -> None:
    dark = {"now": True}
    monkeypatch.setattr(theme_module, "system_is_dark", lambda: dark["now"])
    native = QPalette(qapp.palette())
    manager = ThemeManager(qapp, ThemeChoice.SYSTEM)
    try:
        assert is_dark(qapp.palette()) and qapp.style().name().lower() == "fusion"
        dark["now"] = False
        manager._on_system_changed(None)  # what QStyleHints.colorSchemeChanged calls
        assert not is_dark(qapp.palette())
        assert qapp.palette() == native  # a light system keeps the platform's own look
        manager.apply(ThemeChoice.DARK)
        dark["now"] = False
        manager._on_system_changed(None)  # a fixed choice ignores the system
        assert is_dark(qapp.palette())
    finally:
        manager.setParent(None)
        manager.deleteLater()
