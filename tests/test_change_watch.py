"""ChangeWatch: a long-lived connection that tells when another connection committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import RED

from storyboard_app.project import change_watch
from storyboard_app.project.change_watch import ChangeWatch, ProjectSnapshot, changes_between
from storyboard_app.project.records import TakeParams
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


def test_changes_between_snapshots_are_as_narrow_as_the_edit(story_store: ProjectStore) -> None:
    def changes_after(edit: object) -> object:
        before = ProjectSnapshot.read(story_store)
        edit()  # type: ignore[operator]
        return changes_between(before, ProjectSnapshot.read(story_store))

    first, second = (scene.id for scene in story_store.scenes.list()[:2])
    assert not changes_between(ProjectSnapshot.read(story_store), ProjectSnapshot.read(story_store))
    caption = changes_after(lambda: story_store.scenes.update(second, caption="Now"))
    assert (caption.scene_ids, caption.scenes, caption.characters) == ((second,), False, False)
    added = changes_after(lambda: story_store.scenes.add("[NC] gulls"))
    assert added.scenes and not added.settings
    look = changes_after(lambda: story_store.characters.update("Bob", seed=5))
    assert look.characters and not look.scenes
    steps = changes_after(lambda: story_store.update_settings(steps=9))
    assert steps.settings and not steps.scene_ids
    fade = changes_after(lambda: story_store.transitions.set(first, second, kind="crossfade"))
    assert fade.scenes


def test_a_take_or_a_cast_change_elsewhere_names_its_panel(story_store: ProjectStore) -> None:
    """Another program's new take, or a panel's cast changed by raw SQL, is that panel's
    change: the revision its triggers bump says so, though its row stayed the same."""
    first, second = (scene.id for scene in story_store.scenes.list()[:2])
    before = ProjectSnapshot.read(story_store)
    with ProjectStore.open(story_store.folder) as other:
        other.takes.add(second, RED, TakeParams(width=4, height=4, seed=3))
    taken = changes_between(before, after := ProjectSnapshot.read(story_store))
    assert (taken.scene_ids, taken.scenes) == ((second,), False)
    database = sqlite3.connect(story_store.folder / DATABASE_NAME)
    with database:
        database.execute("DELETE FROM scene_characters WHERE scene_id = ?", (first,))
    database.close()
    recast = changes_between(after, ProjectSnapshot.read(story_store))
    assert (recast.scene_ids, recast.scenes) == ((first,), False)


def test_a_look_reads_three_numbers_a_panel_not_its_rows(
    story_store: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot reads each panel's id, position and revision; its row, cast and take
    count (about 6 ms a look at a thousand panels) are left to the views."""
    statements: list[str] = []
    real_rows = change_watch._rows

    def recording(session: object, sql: str, parameters: tuple = ()) -> tuple:
        statements.append(sql)
        return real_rows(session, sql, parameters)  # type: ignore[arg-type]

    monkeypatch.setattr(change_watch, "_rows", recording)
    change_watch.ProjectSnapshot.read(story_store)
    scene_reads = [sql for sql in statements if "scene" in sql or "takes" in sql]
    assert scene_reads == ["SELECT id, position, revision FROM scenes ORDER BY position, id"]
