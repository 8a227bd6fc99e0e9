"""The inspector's Action, Dialogue and Narration fields: each its own column, each undoable."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel

from storyboard_app.ui.main_window import MainWindow


def field_labels(fields: Any) -> list[str]:
    form = fields.layout()
    assert isinstance(form, QFormLayout)
    labels = []
    for row in range(form.rowCount()):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        if item is not None and isinstance(item.widget(), QLabel):
            labels.append(item.widget().text())
    return labels


def test_action_dialogue_and_narration_are_separate_undoable_fields(opened: MainWindow) -> None:
    workspace = opened.workspace
    assert workspace is not None
    fields = workspace.inspector.fields
    assert {"Action", "Dialogue", "Narration"} <= set(field_labels(fields))
    first = workspace.storyboard_model.scene_ids()[0]
    workspace.storyboard.select_scenes([first])
    before = workspace.store.scenes.get(first)
    fields.dialogue.setPlainText("Mara: Who is there?\nTom: 私だ 🙂")
    fields.dialogue.commit()
    fields.caption.setPlainText("Midnight.")
    fields.caption.commit()
    after = workspace.store.scenes.get(first)
    assert (after.dialogue, after.caption) == ("Mara: Who is there?\nTom: 私だ 🙂", "Midnight.")
    assert after.prompt == before.prompt
    workspace.session.undo_stack.undo()
    assert workspace.store.scenes.get(first).caption == before.caption
    assert fields.caption.toPlainText() == before.caption
    workspace.session.undo_stack.undo()
    assert workspace.store.scenes.get(first).dialogue == ""
    assert fields.dialogue.toPlainText() == ""
    workspace.session.undo_stack.redo()
    assert fields.dialogue.toPlainText().startswith("Mara: Who is there?")
