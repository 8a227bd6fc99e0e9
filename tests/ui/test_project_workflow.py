"""New project (title, shape, fitted size), the start page, Save As and Open, as artists do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog
from support import png_bytes

from storyboard_app.project.peek import peek_project
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.file_dialogs import ProjectOpenDialog
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.new_project_dialog import NewProjectDialog
from storyboard_app.ui.project_files import folder_name_for, project_location, proposed_copy
from storyboard_app.worker.host import EngineHost


@pytest.fixture
def window(make_window: Any, fake_host: EngineHost) -> MainWindow:
    return make_window(fake_host)


def test_a_new_project_asks_for_title_and_shape_and_fits_the_size(
    window: MainWindow, tmp_path: Path
) -> None:
    def fill(dialog: NewProjectDialog) -> bool:
        dialog.location.setText(str(tmp_path))
        dialog.title.setText("The Lighthouse: Part 1")
        dialog.title.textEdited.emit("The Lighthouse: Part 1")
        dialog.aspect.setCurrentIndex(dialog.aspect.findData("2.39:1"))
        assert "SDXL renders 1536x640 (0.98 MP)" in dialog.sizes.text()
        assert "SD 1.5 renders 784x328 (0.26 MP)" in dialog.sizes.text()
        assert dialog.name.text() == "The_Lighthouse_Part_1"
        return True

    assert window.new_project(fill)
    store = window.workspace.store
    assert store.name == "The Lighthouse: Part 1"
    assert store.folder == tmp_path / "The_Lighthouse_Part_1.storyboard"
    settings = store.settings()
    assert settings.aspect_ratio == "2.39:1" and (settings.width, settings.height) == (0, 0)
    assert settings.render_size("sdxl") == (1536, 640)
    assert settings.render_size("sd15") == (784, 328)
    assert window.app_settings.last_folder() == tmp_path


def test_the_new_project_dialog_offers_every_shape_and_refuses_an_existing_folder(
    qtbot: Any, tmp_path: Path
) -> None:
    dialog = NewProjectDialog(tmp_path)
    qtbot.addWidget(dialog)
    shapes = [dialog.aspect.itemData(i) for i in range(dialog.aspect.count())]
    assert shapes == ["16:9", "2.39:1", "1.85:1", "4:3", "1:1", "9:16"]
    assert dialog.aspect.currentData() == "16:9"
    assert "1344x768" in dialog.sizes.text() and "680x384" in dialog.sizes.text()
    dialog.name.setText("taken")
    dialog.name.textEdited.emit("taken")
    dialog.title.textEdited.emit("Another title")  # an edited name stays
    assert dialog.name.text() == "taken"
    (tmp_path / "taken.storyboard").mkdir()
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "already exists" in dialog.error.text()


def test_folder_names_come_from_titles() -> None:
    assert folder_name_for("The Lighthouse: Part 1") == "The_Lighthouse_Part_1"
    assert folder_name_for('a/b\\c*d?"e<f>g|h') == "a_b_c_d_e_f_g_h"
    assert folder_name_for("  ") == "Untitled"
    assert folder_name_for("...") == "Untitled"
    assert folder_name_for("灯台の夜") == "灯台の夜"
    assert len(folder_name_for("x" * 500)) == 80


def add_picture(store: ProjectStore, color: str) -> None:
    scene = store.scenes.add("a lighthouse at dusk")
    store.takes.add(scene.id, png_bytes(color, (64, 36)), TakeParams(width=64, height=36))


def test_the_start_page_lists_recent_projects_by_title_with_a_thumbnail(
    window: MainWindow, tmp_path: Path
) -> None:
    with ProjectStore.create(tmp_path / "lh", name="The Lighthouse") as store:
        add_picture(store, "blue")
        folder = store.folder
    with ProjectStore.create(tmp_path / "empty", name="Nothing Yet") as store:
        empty = store.folder
    assert window.open_project(folder) and window.open_project(empty)
    window.projects.close()
    recent = window.start_page.recent
    first, second = recent.item(0), recent.item(1)
    assert first.text().startswith("Nothing Yet\n0 panels")
    assert second.text().startswith("The Lighthouse\n1 panel ·")
    assert second.data(256) == str(folder)
    picture = second.icon().pixmap(96, 54).toImage()
    assert picture.pixelColor(48, 27).name() == "#0000ff"
    blank = first.icon().pixmap(96, 54).toImage()
    assert blank.pixelColor(48, 27).name() != "#0000ff"


def test_peeking_writes_nothing_and_survives_a_broken_database(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p", name="Peeked") as store:
        add_picture(store, "red")
        folder = store.folder
    database = folder / "project.sqlite"
    before = (database.read_bytes(), database.stat().st_mtime_ns, sorted(folder.rglob("*")))
    peek = peek_project(folder)
    assert peek is not None and peek.title == "Peeked" and peek.panels == 1
    assert peek.thumbnail is not None and peek.thumbnail.is_file()
    # Only SQLite's own index of readers may appear beside the database (no backup, no
    # migration, no edit).
    after = sorted(
        p for p in folder.rglob("*") if p.name not in {"project.sqlite-shm", "project.sqlite-wal"}
    )
    assert (database.read_bytes(), database.stat().st_mtime_ns, after) == before
    broken = tmp_path / "broken.storyboard"
    broken.mkdir()
    (broken / "project.sqlite").write_bytes(b"not a database at all" * 100)
    assert peek_project(broken) is None
    assert peek_project(tmp_path / "nowhere.storyboard") is None


def test_the_start_page_hides_the_docks_a_restored_layout_would_show(
    make_window: Any, fake_host: EngineHost, story_store: ProjectStore
) -> None:
    first: MainWindow = make_window(fake_host)
    assert first.open_project(story_store.folder)
    assert first.characters_dock.isVisible() and first.timeline_dock.isVisible()
    first.app_settings.save_window(first)
    first.projects.close()
    second: MainWindow = make_window(fake_host)
    assert second.stack.currentWidget() is second.start_page
    docks = (second.characters_dock, second.inspector_dock, second.timeline_dock)
    assert not any(dock.isVisible() for dock in docks)
    assert second.open_project(story_store.folder)
    assert all(dock.isVisible() for dock in docks)


def test_save_as_proposes_a_name_from_the_title(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ProjectStore.create(tmp_path / "draft3", name="Mara's Lighthouse") as store:
        folder = store.folder
    assert window.open_project(folder)
    proposed: list[str] = []

    def save_file_name(_parent: Any, _title: str, path: str, _filter: str) -> tuple[str, str]:
        proposed.append(path)
        return path, ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_file_name)
    window.actions.save_as.trigger()
    assert proposed == [str(tmp_path / "Mara's_Lighthouse")]
    assert window.workspace.store.folder == tmp_path / "Mara's_Lighthouse.storyboard"
    assert proposed_copy("Mara's Lighthouse", tmp_path).name == "Mara's_Lighthouse_copy.storyboard"


def test_open_accepts_the_project_folder_or_its_database(
    qtbot: Any, window: MainWindow, story_store: ProjectStore
) -> None:
    folder = story_store.folder
    assert project_location(folder / "project.sqlite") == folder
    assert project_location(folder / "project.sqlite-wal") == folder
    assert window.open_project(folder / "project.sqlite")
    assert window.workspace.store.folder == folder
    for picked in (folder, folder / "project.sqlite"):
        dialog = ProjectOpenDialog(None, folder.parent)
        qtbot.addWidget(dialog)
        dialog.selectFile(str(picked))
        dialog.accept()
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert dialog.chosen == folder
