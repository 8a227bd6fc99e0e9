"""File > New from Story…: the draft in editable tables, checked before anything is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storyboard_app.project.scripts.prose import parse_prose
from storyboard_app.ui import file_dialogs
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.story_draft_dialog import StoryDraftDialog
from storyboard_app.worker.host import EngineHost

STORY = "Mara climbs the hill. Mara waves. She smiles.\n"
SCREENPLAY = "INT. ROOM - DAY\n\nANNA sits.\n\nANNA\nHello.\n"


@pytest.fixture
def window(make_window: Any, fake_host: EngineHost) -> MainWindow:
    return make_window(fake_host)


def test_the_tables_show_the_draft_and_read_edits_back(qtbot: Any) -> None:
    dialog = StoryDraftDialog(parse_prose(STORY))
    qtbot.addWidget(dialog)
    assert dialog.characters.item(0, 0).text() == "Mara"
    assert dialog.panels.rowCount() == 3
    assert dialog.panels.item(2, 0).text() == "[Mara] smiles."
    dialog.characters.item(0, 0).setText("Mira")
    dialog.characters.item(0, 1).setText("a girl in a red coat")
    dialog.panels.item(1, 2).setText("Mira: Hello!")
    script = dialog.edited_script()
    assert [(c.name, c.description) for c in script.characters] == [
        ("Mira", "a girl in a red coat")
    ]
    assert script.scenes[0].prompt == "[Mira] climbs the hill."
    assert script.scenes[0].characters == ("Mira",)
    assert script.scenes[1].dialogue == "Mira: Hello!"


def test_an_invalid_edit_keeps_the_dialog_open_with_one_message(qtbot: Any) -> None:
    dialog = StoryDraftDialog(parse_prose(STORY))
    qtbot.addWidget(dialog)
    dialog.panels.item(0, 0).setText("[Zed] climbs")
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted and dialog.result_script is None
    assert "'Zed'" in dialog.problem.text()
    dialog.panels.item(0, 0).setText("")
    dialog.accept()
    assert "empty prompt" in dialog.problem.text()
    dialog.panels.item(0, 0).setText("[Mara] climbs")
    dialog.accept()
    assert dialog.result_script is not None


def test_new_from_story_creates_the_edited_project(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tmp_path / "scene.fountain"
    story.write_text(SCREENPLAY)
    monkeypatch.setattr(file_dialogs, "ask_new_project", lambda *_a: tmp_path / "film.storyboard")

    def confirm(dialog: StoryDraftDialog) -> bool:
        dialog.characters.item(0, 1).setText("a woman in a green coat")
        dialog.accept()
        return True

    assert window.new_from_story(story, confirm)
    assert window.workspace is not None
    store = window.workspace.store
    assert [c.description for c in store.characters.list()] == ["a woman in a green coat"]
    assert [(s.caption, s.dialogue) for s in store.scenes.list()] == [
        ("INT. ROOM - DAY", ""),
        ("", "Anna: Hello."),
    ]


def test_a_bad_story_is_one_message_and_no_project(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tmp_path / "bad.fountain"
    story.write_text("INT. ROOM\n\n/* open\n")
    shown: list[Any] = []
    monkeypatch.setattr(window, "show_message", shown.append)
    assert not window.new_from_story(story, lambda _d: pytest.fail("no dialog for a bad story"))
    assert len(shown) == 1 and "bad.fountain:3" in shown[0].text
    assert window.workspace is None
    assert list(tmp_path.iterdir()) == [story]


def test_cancelling_the_dialog_creates_nothing(window: MainWindow, tmp_path: Path) -> None:
    story = tmp_path / "story.md"
    story.write_text(STORY)
    assert not window.new_from_story(story, lambda _d: False)
    assert window.workspace is None and list(tmp_path.iterdir()) == [story]
