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
        """What a later look (reading only what changed) finds, checked against a full read."""
        before = ProjectSnapshot.read(story_store)
        edit()  # type: ignore[operator]
        found = changes_between(before, before.looked_again(story_store))
        assert found == changes_between(before, ProjectSnapshot.read(story_store))
        return found

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


def _recording_rows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """``[(sql, rows returned)]`` of every read the snapshots make."""
    statements: list[tuple[str, int]] = []
    real_rows = change_watch._rows

    def recording(session: object, sql: str, parameters: tuple = ()) -> tuple:
        rows = real_rows(session, sql, parameters)  # type: ignore[arg-type]
        statements.append((sql, len(rows)))
        return rows

    monkeypatch.setattr(change_watch, "_rows", recording)
    return statements


def test_a_later_look_reads_only_the_panels_changed_since(
    story_store: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look reads each panel's id, position and revision (never its row, cast
    or take count); a later one reads only the panels whose revision passed the story
    clock it saw, and the count, so it costs the same at ten panels and a thousand."""
    statements = _recording_rows(monkeypatch)
    before = ProjectSnapshot.read(story_store)
    scene_reads = [sql for sql, _ in statements if "scene" in sql or "takes" in sql]
    assert scene_reads == ["SELECT id, position, revision FROM scenes"]
    second = story_store.scenes.list()[1].id
    story_store.scenes.update(second, caption="Now")
    statements.clear()
    after = before.looked_again(story_store)
    panel_rows = [rows for sql, rows in statements if sql.startswith("SELECT id, position")]
    assert panel_rows == [1]
    assert changes_between(before, after).scene_ids == (second,)
    statements.clear()
    assert not changes_between(after, after.looked_again(story_store))
    assert [rows for sql, rows in statements if sql.startswith("SELECT id, position")] == [0]


def test_a_look_after_panels_went_and_came_finds_the_story_changed(
    story_store: ProjectStore,
) -> None:
    """A deletion leaves no row to read past the clock: the count tells of it, the look
    reads every panel again and keeps no trace of the one gone, even when another panel
    came in the same interval."""
    scenes = story_store.scenes.list()
    before = ProjectSnapshot.read(story_store)
    story_store.scenes.delete(scenes[-1].id)
    gone = before.looked_again(story_store)
    assert changes_between(before, gone).scenes
    assert scenes[-1].id not in gone.scenes
    story_store.scenes.delete(scenes[0].id)
    added = story_store.scenes.add("[NC] gulls")
    swapped = gone.looked_again(story_store)
    assert changes_between(gone, swapped).scenes
    assert swapped.scenes == ProjectSnapshot.read(story_store).scenes
    assert set(swapped.scenes) == {s.id for s in scenes[1:-1]} | {added.id}


def test_the_story_clock_never_hands_a_value_out_twice(story_store: ProjectStore) -> None:
    """Deleting the newest panel must not let the next change take its revision again, or
    a look that saw that value would miss the change."""
    newest = story_store.scenes.add("[NC] a late panel")
    seen = ProjectSnapshot.read(story_store)
    story_store.scenes.delete(newest.id)
    other = story_store.scenes.list()[0].id
    story_store.scenes.update(other, caption="after the deletion")
    later = ProjectSnapshot.read(story_store)
    assert later.scenes[other][1] > seen.clock
    assert later.clock > seen.clock
