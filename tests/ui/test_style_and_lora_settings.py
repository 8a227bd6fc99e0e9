"""The style chooser and the LoRA list of the settings dialog, applied as undoable edits."""

from __future__ import annotations

import dataclasses
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest
from support import png_bytes

from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.staleness import panel_inputs, record_take_inputs
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.styles import style_names
from storyboard_app.ui.lora_list import EVERYWHERE
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


def safetensors_file(path: Path) -> Path:
    """A file with a valid safetensors header (no tensors): enough to be added."""
    header = f'{{"__metadata__": {{"name": "{path.stem}"}}}}'.encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def open_dialog(qtbot: Any, run_async: Any, window: MainWindow) -> Any:
    dialog = window.open_settings()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    run_async(dialog.detect_gpu())
    return dialog


def test_the_style_is_chosen_from_the_shipped_styles_and_undone(
    qtbot: Any, run_async: Any, make_window: Any, fake_host: EngineHost, store: ProjectStore
) -> None:
    window: MainWindow = make_window(fake_host)
    assert window.open_project(store.folder)
    dialog = open_dialog(qtbot, run_async, window)
    combo = dialog.style
    assert [combo.itemData(i) for i in range(combo.count())] == list(style_names())
    assert combo.currentData() == "none"
    combo.setCurrentIndex(combo.findData("film-noir"))
    dialog.accept()
    qtbot.waitUntil(lambda: window.workspace.store.settings().style == "film-noir")
    window.workspace.session.undo_stack.undo()
    assert window.workspace.store.settings().style == "none"
    window.workspace.session.undo_stack.redo()
    assert window.workspace.store.settings().style == "film-noir"
    dialog = open_dialog(qtbot, run_async, window)
    assert dialog.style.currentData() == "film-noir"
    dialog.reject()


def test_the_lora_list_adds_edits_and_removes_as_one_undo_step(
    qtbot: Any,
    run_async: Any,
    make_window: Any,
    fake_host: EngineHost,
    store: ProjectStore,
    tmp_path: Path,
) -> None:
    store.characters.add("Mara", "a woman with red hair")
    store.characters.add("Bob", "an old man")
    ink = store.loras.add(safetensors_file(tmp_path / "ink.safetensors"), character="Mara")
    old = store.loras.add(safetensors_file(tmp_path / "old.safetensors"), scale=0.5)
    scene = store.scenes.add("a storm over the sea")
    take = store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16, seed=scene.seed))
    inputs = panel_inputs(scene, store.settings(), {}, store.loras.list())
    record_take_inputs(store, take.id, inputs)
    window: MainWindow = make_window(fake_host)
    assert window.open_project(store.folder)
    model = window.workspace.storyboard_model
    assert model.panel(0).stale_reasons == ()
    dialog = open_dialog(qtbot, run_async, window)
    editor = dialog.lora_list
    assert [lora.name for lora in editor.loras()] == ["ink", "old"]
    assert editor.loras()[0].character == "Mara"

    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"x": 1}))
    assert not editor.add_file(evil)
    assert "not a .safetensors file" in editor.status.text()
    assert editor.add_file(safetensors_file(tmp_path / "wash.safetensors"))
    assert editor.add_file(tmp_path / "wash.safetensors")  # the same file again, renamed
    editor.table.selectRow(1)
    editor.remove_selected()  # "old"
    editor.table.cellWidget(1, 1).setValue(0.75)
    editor.table.cellWidget(1, 2).setText(" washy ")
    owner = editor.table.cellWidget(1, 3)
    owner.setCurrentIndex(owner.findData("Bob"))
    first = editor.table.cellWidget(0, 3)
    first.setCurrentIndex(first.findText(EVERYWHERE))
    dialog.accept()

    def listed() -> list[tuple[object, ...]]:
        loras = window.workspace.store.loras.list()
        return [(x.name, x.scale, x.trigger, x.character) for x in loras]

    after = [("ink", 1.0, "", None), ("wash", 0.75, "washy", "Bob"), ("wash-2", 1.0, "", None)]
    qtbot.waitUntil(lambda: listed() == after)
    assert [r.text for r in model.panel(0).stale_reasons] == ["LoRAs changed"]
    assert window.workspace.store.loras.list()[0].digest == ink.digest
    stack = window.workspace.session.undo_stack
    assert stack.undoText() == "Change LoRAs"
    stack.undo()
    assert listed() == [("ink", 1.0, "", "Mara"), ("old", 0.5, "", None)]
    assert model.panel(0).stale_reasons == ()
    assert window.workspace.store.loras.list()[1].digest == old.digest
    stack.redo()
    assert listed() == after

    dialog = open_dialog(qtbot, run_async, window)
    count = stack.count()
    dialog.accept()  # nothing changed: no new undo step
    assert stack.count() == count


def test_replacing_the_lora_list_refuses_twins_and_missing_characters(
    store: ProjectStore, tmp_path: Path
) -> None:
    ink = store.loras.add(safetensors_file(tmp_path / "ink.safetensors"))
    with pytest.raises(ValidationError, match="same name"):
        store.loras.replace([ink, ink])
    with pytest.raises(NotFoundError, match="no longer in the story"):
        store.loras.replace([dataclasses.replace(ink, character="Zed")])
    with pytest.raises(ValidationError, match="not usable"):
        store.loras.replace([dataclasses.replace(ink, scale=9.0)])
    assert store.loras.list() == [ink]  # nothing changed
