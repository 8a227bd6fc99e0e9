"""The style chooser and the LoRA list of the settings dialog, applied as undoable edits."""

from __future__ import annotations

import dataclasses
import pickle
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import png_bytes

from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.loras import HASH_CHUNK, file_digest
from storyboard_app.project.records import TakeParams
from storyboard_app.project.staleness import panel_inputs, record_take_inputs
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.styles import style_names
from storyboard_app.ui import lora_list
from storyboard_app.ui.lora_list import EVERYWHERE, LoraListEditor
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


def safetensors_file(path: Path) -> Path:
    """A file with a valid safetensors header (no tensors): enough to be added."""
    header = f'{{"__metadata__": {{"name": "{path.stem}"}}}}'.encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def added(qtbot: Any, editor: LoraListEditor, path: Path) -> bool:
    """Add ``path`` and wait for the pool thread's answer: was it added?"""
    with qtbot.waitSignal(editor.file_done, timeout=10_000) as outcome:
        editor.add_file(path)
    return bool(outcome.args[0])


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
    assert not added(qtbot, editor, evil)
    assert "not a .safetensors file" in editor.status.text()
    assert added(qtbot, editor, safetensors_file(tmp_path / "wash.safetensors"))
    assert added(qtbot, editor, tmp_path / "wash.safetensors")  # the same file, renamed
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


def test_a_lora_file_is_hashed_off_the_ui_thread_while_the_list_is_busy(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, threads = threading.Event(), []

    def slow_digest(path: Path, stop: Any = lambda: False) -> str:
        threads.append(threading.current_thread())
        assert release.wait(10)
        return file_digest(path, stop)

    monkeypatch.setattr(lora_list, "file_digest", slow_digest)
    editor = LoraListEditor([], ["Mara"])
    qtbot.addWidget(editor)
    with qtbot.waitSignal(editor.busy_changed) as busy:
        editor.add_file(safetensors_file(tmp_path / "ink.safetensors"))
    assert busy.args == [True]  # add_file came back while the hash is still held
    assert editor.is_busy() and not editor.add_button.isEnabled()
    assert (
        editor.progress.isVisibleTo(editor) and "Checking ink.safetensors" in editor.status.text()
    )
    qtbot.waitUntil(lambda: bool(threads))
    assert threads[0] is not threading.main_thread()
    assert editor.loras() == []
    with qtbot.waitSignal(editor.file_done) as done:
        release.set()
    assert done.args == [True]
    assert [lora.name for lora in editor.loras()] == ["ink"]
    assert editor.loras()[0].digest == file_digest(tmp_path / "ink.safetensors")
    assert not editor.is_busy() and editor.add_button.isEnabled()
    assert not editor.progress.isVisibleTo(editor) and editor.status.text() == ""


def test_closing_the_dialog_stops_a_hash_and_ok_waits_for_it(
    qtbot: Any,
    run_async: Any,
    make_window: Any,
    fake_host: EngineHost,
    store: ProjectStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = tmp_path / "big.safetensors"
    safetensors_file(big)
    with big.open("ab") as handle:
        handle.write(bytes(4 * HASH_CHUNK))
    started, chunks = threading.Event(), []

    def held_until_stopped(stop: Any) -> Any:
        """Ask ``stop`` once per chunk, the first time only after the dialog asked it."""

        def asked() -> bool:
            chunks.append(1)
            started.set()
            deadline = time.monotonic() + 10
            while not stop() and time.monotonic() < deadline:
                time.sleep(0.01)
            return stop()

        return asked

    real_digest = lora_list.file_digest
    monkeypatch.setattr(
        lora_list, "file_digest", lambda path, stop: real_digest(path, held_until_stopped(stop))
    )
    window: MainWindow = make_window(fake_host)
    assert window.open_project(store.folder)
    dialog = open_dialog(qtbot, run_async, window)
    dialog.lora_list.add_file(big)
    assert not dialog.ok_button.isEnabled()
    qtbot.waitUntil(started.is_set)
    dialog.accept()  # refused while the file is hashed: the dialog stays open
    assert dialog.isVisible() and "still being checked" in dialog.error.text()
    dialog.reject()  # stops the hash and waits for its thread
    assert not dialog.isVisible()
    assert len(chunks) == 1  # stopped at the first chunk, not hashed to the end
    assert window.workspace.store.loras.list() == []
