"""Pieces of the window on their own: tag highlighting, take groups, Save As, the entry point."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor, QTextCharFormat

from storyboard_app.project.errors import ProjectExistsError
from storyboard_app.project.records import TakeParams, TakeRecord
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui import app as app_module
from storyboard_app.ui.project_files import duplicate_project, example_scripts
from storyboard_app.ui.prompt_edit import PromptEdit
from storyboard_app.ui.take_strip import differing_settings, group_takes, settings_tooltip


def take(take_id: int, **params: Any) -> TakeRecord:
    base = TakeParams(width=64, height=64, model_source="tiny", seed=1, steps=30, prompt="p")
    return TakeRecord(
        take_id,
        1,
        "x.png",
        dataclasses.replace(base, **params),
        datetime(2025, 1, 1, tzinfo=UTC),
        number=take_id,
    )


def formats_at(editor: PromptEdit, position: int) -> Any:
    block = editor.document().firstBlock()
    for layout_range in block.layout().formats():
        if layout_range.start <= position < layout_range.start + layout_range.length:
            return QTextCharFormat(layout_range.format)
    return None


def test_character_tags_are_highlighted_in_their_colour(qtbot: Any) -> None:
    editor = PromptEdit()
    qtbot.addWidget(editor)
    editor.set_characters({"Mara": "#e4572e"})
    editor.set_text("[Mara] meets [Ghost] [NC]")
    mara, ghost, plain = formats_at(editor, 1), formats_at(editor, 14), formats_at(editor, 7)
    assert mara.background().color() == QColor("#e4572e").lighter(185)
    assert ghost.underlineStyle() == ghost.UnderlineStyle.WaveUnderline
    assert plain is None


def test_prompt_edits_commit_once_per_change(qtbot: Any) -> None:
    editor = PromptEdit()
    qtbot.addWidget(editor)
    committed: list[str] = []
    editor.committed.connect(committed.append)
    editor.set_text("[Mara] waves")
    editor.commit()
    editor.setPlainText("[Mara] waves back")
    with qtbot.waitSignal(editor.committed, timeout=3000):
        pass
    editor.commit()
    assert committed == ["[Mara] waves back"]


def test_takes_are_grouped_by_the_settings_that_differ() -> None:
    takes = [take(1, seed=5), take(2, seed=6), take(3, seed=7, steps=50), take(4, seed=8)]
    assert differing_settings(takes) == ["steps", "seed"]
    items = group_takes(takes)
    assert [(i.take.id, i.group, i.label, i.group_start) for i in items] == [
        (1, "steps 30", "Take 1 · seed 5", True),
        (2, "steps 30", "Take 2 · seed 6", False),
        (4, "steps 30", "Take 4 · seed 8", False),
        (3, "steps 50", "Take 3 · seed 7", True),
    ]
    assert "model: tiny" in settings_tooltip(takes[0])
    assert settings_tooltip(takes[0]).startswith("Take 1 (id 1)")


def test_takes_differing_only_by_seed_form_one_group() -> None:
    items = group_takes([take(1, seed=5), take(2, seed=6)])
    assert {item.group for item in items} == {"all takes"}


def test_save_as_copies_committed_data_still_in_the_wal(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    story_store.scenes.add("[Bob] waves goodbye")
    wal = story_store.folder / "project.sqlite-wal"
    assert wal.exists() and wal.stat().st_size > 0
    copy = duplicate_project(story_store.folder, tmp_path / "copy")
    with ProjectStore.open(copy) as opened:
        assert [s.prompt for s in opened.scenes.list()][-1] == "[Bob] waves goodbye"
        assert opened.integrity_check() == ["ok"]
    with sqlite3.connect(copy / "project.sqlite") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with pytest.raises(ProjectExistsError):
        duplicate_project(story_store.folder, tmp_path / "copy")


def test_the_bundled_examples_are_found() -> None:
    assert {p.name for p in example_scripts()} == {
        "forest_treasure.txt",
        "lighthouse.fountain",
        "lighthouse_keeper.toml",
    }


def test_the_entry_point_takes_an_optional_project(
    qtbot: Any, story_store: ProjectStore, fake_host: Any, app_settings: Any
) -> None:
    assert app_module.parse_arguments([]).project is None
    assert app_module.parse_arguments([str(story_store.folder)]).project == story_store.folder
    window = app_module.build_window(story_store.folder, fake_host, app_settings)
    qtbot.addWidget(window)
    assert window.workspace is not None and window.workspace.store.folder == story_store.folder
    window.close()
    missing = app_module.build_window(story_store.folder.with_name("gone"), fake_host, app_settings)
    qtbot.addWidget(missing)
    assert missing.workspace is None and "No project at" in missing.messages.text.text()
    missing.close()


def test_main_runs_the_window_and_shuts_the_engine_down(
    qapp: Any, story_store: ProjectStore, app_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from storyboard_app.ui.main_window import MainWindow
    from storyboard_app.worker.fake_engine import FakeEngine
    from storyboard_app.worker.host import EngineHost

    engine = FakeEngine()
    hosts: list[EngineHost] = []
    seen: list[Any] = []
    monkeypatch.setattr(app_module, "engine_by_name", lambda: lambda: engine)
    monkeypatch.setattr(app_module.AppSettings, "for_user", classmethod(lambda cls: app_settings))
    original_host = app_module.EngineHost

    def tracked_host(*args: Any, **kwargs: Any) -> EngineHost:
        hosts.append(original_host(*args, **kwargs))
        return hosts[-1]

    monkeypatch.setattr(app_module, "EngineHost", tracked_host)

    def close_window() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        seen.extend(w.workspace.store.folder for w in windows if w.workspace is not None)
        for window in windows:
            window.close()

    QTimer.singleShot(300, close_window)
    assert app_module.main([str(story_store.folder)]) == 0
    assert seen == [story_store.folder]
    assert engine.closed and not hosts[0].is_running()
