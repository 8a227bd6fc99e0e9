"""Take numbers and hand-picked takes in the store, and panels with no Action text."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storyboard_app.engine.project_render import build_render_request
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.undo_support import restore_scene, restore_take, snapshot_scene


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def add(store: ProjectStore, scene_id: int, seed: int, **kwargs: object) -> int:
    params = TakeParams(width=8, height=8, seed=seed)
    return store.takes.add(scene_id, png(), params, **kwargs).id  # type: ignore[arg-type]


def test_takes_are_numbered_per_panel_and_keep_their_number(story_store: ProjectStore) -> None:
    first, second = story_store.scenes.list()[:2]
    ids = [add(story_store, first.id, seed) for seed in (1, 2, 3)]
    add(story_store, second.id, 9)
    assert [t.number for t in story_store.takes.list(first.id)] == [1, 2, 3]
    assert [t.label for t in story_store.takes.list(second.id)] == ["Take 1"]
    removed = story_store.takes.get(ids[1])
    story_store.takes.delete(ids[1])
    assert [t.number for t in story_store.takes.list(first.id)] == [1, 3]
    restore_take(story_store, removed, make_active=False)
    assert [t.number for t in story_store.takes.list(first.id)] == [1, 2, 3]


def test_a_picked_take_stays_active_only_when_the_render_keeps_picks(
    story_store: ProjectStore,
) -> None:
    scene = story_store.scenes.list()[0]
    first = add(story_store, scene.id, 1)
    add(story_store, scene.id, 2)
    story_store.takes.set_active(scene.id, first, picked=True)
    kept = add(story_store, scene.id, 3, keep_picked=True)
    assert story_store.scenes.get(scene.id).active_take_id == first
    assert story_store.scenes.get(scene.id).take_picked
    replaced = add(story_store, scene.id, 4)
    assert kept != replaced
    after = story_store.scenes.get(scene.id)
    assert (after.active_take_id, after.take_picked) == (replaced, False)


def test_an_unpicked_take_is_replaced_even_when_picks_are_kept(story_store: ProjectStore) -> None:
    scene = story_store.scenes.list()[0]
    add(story_store, scene.id, 1)
    newest = add(story_store, scene.id, 2, keep_picked=True)
    assert story_store.scenes.get(scene.id).active_take_id == newest


def test_deleting_a_panel_and_undoing_keeps_its_pick(story_store: ProjectStore) -> None:
    scene = story_store.scenes.list()[0]
    first = add(story_store, scene.id, 1)
    add(story_store, scene.id, 2)
    story_store.takes.set_active(scene.id, first, picked=True)
    snapshot = snapshot_scene(story_store, scene.id)
    story_store.scenes.delete(scene.id)
    restore_scene(story_store, snapshot)
    back = story_store.scenes.get(scene.id)
    assert (back.active_take_id, back.take_picked) == (first, True)


def test_a_panel_may_start_without_action_but_never_renders_so(story_store: ProjectStore) -> None:
    with pytest.raises(ValidationError, match="prompt of panel 5 is empty"):
        story_store.scenes.add("")
    blank = story_store.scenes.add("", allow_empty_prompt=True)
    assert blank.prompt == ""
    story_store.update_settings(model_source="tiny")
    with pytest.raises(ValidationError, match="Panel 5 has no Action text yet") as refused:
        build_render_request(story_store, [blank.id])
    assert "Action field" in refused.value.hint
    assert build_render_request(story_store, [story_store.scenes.at(1).id]).panels
