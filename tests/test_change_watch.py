"""ChangeWatch: a long-lived connection that tells when another connection committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storyboard_app.project.change_watch import ChangeWatch
from storyboard_app.project.store import DATABASE_NAME, ProjectStore


def test_a_commit_elsewhere_is_seen_once_and_reading_is_not_a_change(
    story_store: ProjectStore,
) -> None:
    watch = ChangeWatch(story_store.folder / DATABASE_NAME)
    try:
        assert not watch.changed()
        story_store.scenes.list()
        assert not watch.changed()
        story_store.scenes.update(story_store.scenes.at(1).id, caption="changed")
        assert watch.changed()
        assert not watch.changed()
    finally:
        watch.close()


def test_the_watch_never_writes(story_store: ProjectStore) -> None:
    watch = ChangeWatch(story_store.folder / DATABASE_NAME)
    try:
        connection = watch._connection
        assert connection is not None
        try:
            connection.execute("CREATE TABLE intruder (x)")
        except sqlite3.OperationalError as error:
            assert "readonly" in str(error)
        else:
            raise AssertionError("the watch's connection could write")
    finally:
        watch.close()
    assert not watch.changed()


def test_a_path_with_uri_characters_is_watched(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "my #1 50%.storyboard") as store:
        watch = ChangeWatch(store.folder / DATABASE_NAME)
        try:
            store.rename("Renamed")
            assert watch.changed()
        finally:
            watch.close()


def test_a_folder_name_with_uri_characters_keeps_its_database_inside(tmp_path: Path) -> None:
    """A "?" or "#" in the path once ended the database URL: the file went next to the folder."""
    with ProjectStore.create(tmp_path / "what? #1 50%.storyboard") as store:
        store.scenes.add("[NC] a quiet sea")
        watch = ChangeWatch(store.folder / DATABASE_NAME)
        try:
            store.rename("Renamed")
            assert watch.changed()
        finally:
            watch.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["what? #1 50%.storyboard"]
    with ProjectStore.open(tmp_path / "what? #1 50%.storyboard") as store:
        assert [s.prompt for s in store.scenes.list()] == ["[NC] a quiet sea"]
