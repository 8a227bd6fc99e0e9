"""The character editor's portraits: the identity framings, edited and undone like any field."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard_app.project.characters import DEFAULT_IDENTITY_FRAMINGS
from storyboard_app.ui import characters_dock
from storyboard_app.ui.main_window import MainWindow


def test_portraits_show_the_defaults_edit_the_character_and_undo(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    store = workspace.store
    panel = workspace.characters_panel
    panel.select_character(store.characters.get("Mara").id)
    editor = panel.editor.framings
    assert editor.toPlainText().splitlines() == list(DEFAULT_IDENTITY_FRAMINGS)
    editor.setPlainText("profile view\n\n  full body, running  ")
    editor.commit()
    assert store.characters.get("Mara").identity_framings == ("profile view", "full body, running")
    assert store.characters.get("Bob").identity_framings == ()
    opened.actions.undo.trigger()
    assert store.characters.get("Mara").identity_framings == ()
    assert editor.toPlainText().splitlines() == list(DEFAULT_IDENTITY_FRAMINGS)


def test_reference_strength_and_ip_adapter_edit_the_character_and_undo(
    opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    store = workspace.store
    panel = workspace.characters_panel
    panel.select_character(store.characters.get("Mara").id)
    editor = panel.editor
    names = [editor.ip_adapter.itemData(i) for i in range(editor.ip_adapter.count())]
    assert names == ["", "sd15", "sd15-plus-face", "sdxl", "sdxl-plus-face"]
    assert editor.ip_adapter.currentData() == "" and editor.ip_adapter_scale.value() == 0.6

    editor.reference_strength.setValue(0.4)
    editor.reference_strength.editingFinished.emit()
    editor.ip_adapter.setCurrentIndex(editor.ip_adapter.findData("sdxl-plus-face"))
    editor.ip_adapter.activated.emit(editor.ip_adapter.currentIndex())
    editor.ip_adapter_scale.setValue(0.85)
    editor.ip_adapter_scale.editingFinished.emit()
    mara = store.characters.get("Mara")
    assert (mara.reference_strength, mara.ip_adapter, mara.ip_adapter_scale) == (
        0.4,
        "sdxl-plus-face",
        0.85,
    )
    assert store.characters.get("Bob").ip_adapter == ""
    opened.actions.undo.trigger()
    opened.actions.undo.trigger()
    assert store.characters.get("Mara").ip_adapter == ""
    assert editor.ip_adapter.currentData() == ""

    adapter = tmp_path / "face.safetensors"
    adapter.write_bytes(b"{}")
    chosen = [str(adapter), str(tmp_path / "face.bin")]
    monkeypatch.setattr(
        characters_dock.QFileDialog, "getOpenFileName", lambda *_a: (chosen.pop(0), "")
    )
    editor.choose_ip_adapter.click()
    assert store.characters.get("Mara").ip_adapter == str(adapter.resolve())
    assert editor.ip_adapter.currentText() == "face.safetensors"
    editor.choose_ip_adapter.click()  # a pickle: refused (reported), the combo stays
    assert store.characters.get("Mara").ip_adapter == str(adapter.resolve())
    assert editor.ip_adapter.currentText() == "face.safetensors"
