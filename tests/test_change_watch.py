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


def test_changes_between_snapshots_are_as_narrow_as_the_edit(story_store: ProjectStore) -> None:
    from storyboard_app.project.change_watch import ProjectSnapshot, changes_between

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
