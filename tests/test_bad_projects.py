"""Projects that cannot be opened: each gets one clear error and is left untouched."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from storyboard_app.project.errors import (
    NotAProjectError,
    ProjectCorruptError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
)
from storyboard_app.project.store import ProjectStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_project(tmp_path: Path, scenes: int = 40) -> Path:
    with ProjectStore.create(tmp_path / "p") as store:
        store.characters.add("Mara", "a woman in a green raincoat " * 20)
        for index in range(scenes):
            store.scenes.add(f"[Mara] panel {index} " + "with a long prompt " * 30)
        return store.folder


def test_missing_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="No project at"):
        ProjectStore.open(tmp_path / "nowhere.storyboard")


def test_folder_that_is_not_a_project(tmp_path: Path) -> None:
    folder = tmp_path / "holiday.storyboard"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"x")
    with pytest.raises(NotAProjectError, match="not a storyboard project"):
        ProjectStore.open(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["photo.jpg"]


def test_garbage_database(tmp_path: Path) -> None:
    folder = tmp_path / "g.storyboard"
    folder.mkdir()
    database = folder / "project.sqlite"
    database.write_bytes(b"not a database at all\n" * 100)
    before = digest(database)
    with pytest.raises(ProjectCorruptError, match="damaged") as caught:
        ProjectStore.open(folder)
    assert "backup" in caught.value.hint
    assert digest(database) == before


def test_empty_database_file(tmp_path: Path) -> None:
    folder = tmp_path / "e.storyboard"
    folder.mkdir()
    (folder / "project.sqlite").write_bytes(b"")
    with pytest.raises(ProjectCorruptError):
        ProjectStore.open(folder)


def test_truncated_database(tmp_path: Path) -> None:
    folder = make_project(tmp_path)
    database = folder / "project.sqlite"
    data = database.read_bytes()
    assert len(data) > 8192
    database.write_bytes(data[: len(data) // 2])
    before = digest(database)
    with pytest.raises(ProjectCorruptError, match="damaged"):
        ProjectStore.open(folder)
    assert digest(database) == before


def test_overwritten_pages(tmp_path: Path) -> None:
    folder = make_project(tmp_path)
    database = folder / "project.sqlite"
    data = bytearray(database.read_bytes())
    data[4096 + 100 : 4096 * 3] = b"\xff" * (4096 * 2 - 100)
    database.write_bytes(bytes(data))
    with pytest.raises(ProjectCorruptError):
        ProjectStore.open(folder)


def test_sqlite_file_of_another_program(tmp_path: Path) -> None:
    folder = tmp_path / "other.storyboard"
    folder.mkdir()
    connection = sqlite3.connect(folder / "project.sqlite")
    connection.execute("CREATE TABLE notes (text)")
    connection.commit()
    connection.close()
    with pytest.raises(NotAProjectError, match="not a storyboard project"):
        ProjectStore.open(folder)


def test_write_refused_by_sqlite_is_reported_as_read_only(tmp_path: Path) -> None:
    """SQLite's read-only refusal (a read-only file or drive) reads as a clear message.

    Tests run as root, which ignores file permissions, so ``query_only`` stands in.
    """
    folder = make_project(tmp_path, scenes=1)
    with ProjectStore.open(folder) as store:
        with (
            pytest.raises(ProjectReadOnlyError, match="Cannot write") as caught,
            store.session() as session,
        ):
            session.connection().exec_driver_sql("PRAGMA query_only=ON")
            session.connection().exec_driver_sql("UPDATE scenes SET notes = 'x'")
        assert "writable" in caught.value.hint
    with ProjectStore.open(folder) as store:
        assert store.scenes.at(1).notes == ""
