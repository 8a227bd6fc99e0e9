"""The stale rule: a panel's take is stale when a character in it changed since it was rendered."""

from __future__ import annotations

import dataclasses

from support import png_bytes

from storyboard_app.project.records import TakeParams, TakeRecord
from storyboard_app.project.staleness import panel_inputs, record_take_inputs
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.tags import expand_tags
from storyboard_app.project.undo_support import character_signature, record_take_identities
from storyboard_app.ui.staleness import is_stale


def rendered_take(
    store: ProjectStore, number: int, *, record: bool = True, **params: object
) -> TakeRecord:
    """A take as the engine stores one: the prompt as sent (tags expanded), the panel's seed."""
    scene = store.scenes.at(number)
    characters = {c.name: c for c in store.characters.list()}
    prompt = expand_tags(scene.prompt, {n: c.description for n, c in characters.items()})
    values: dict[str, object] = {"prompt": prompt, "seed": scene.seed, **params}
    take = store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16, **values))
    if record:
        cast = [characters[n] for n in scene.character_names]
        record_take_identities(store, take.id, {c.id: character_signature(c) for c in cast})
        record_take_inputs(store, take.id, panel_inputs(scene, store.settings(), characters))
    return store.takes.get(take.id)


def stale(store: ProjectStore, number: int, take: TakeRecord) -> bool:
    characters = {c.name: c for c in store.characters.list()}
    return is_stale(take, store.scenes.at(number), characters, store.settings())


def test_a_fresh_take_is_not_stale(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 3)
    assert not stale(story_store, 3, take)


def test_a_new_description_or_seed_makes_the_panels_showing_the_character_stale(
    story_store: ProjectStore,
) -> None:
    mara_only, bob_only, both = (rendered_take(story_store, n) for n in (1, 2, 3))
    story_store.characters.update("Bob", seed=99)
    assert (stale(story_store, 1, mara_only), stale(story_store, 2, bob_only)) == (False, True)
    assert stale(story_store, 3, both)
    story_store.characters.update("Bob", seed=story_store.characters.get("Bob").seed)
    story_store.characters.update("Mara", description="a woman with long black hair")
    assert stale(story_store, 1, mara_only) and stale(story_store, 3, both)


def test_undoing_the_edit_makes_the_panel_fresh_again(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 1)
    old = story_store.characters.get("Mara").description
    story_store.characters.update("Mara", description="someone else")
    assert stale(story_store, 1, take)
    story_store.characters.update("Mara", description=old)
    assert not stale(story_store, 1, take)


def test_renaming_a_character_changes_no_picture(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 1)
    story_store.characters.update("Mara", name="Marta")
    assert not stale(story_store, 1, take)


def test_a_changed_cast_is_stale(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 1)
    scene = story_store.scenes.at(1)
    story_store.scenes.update(scene.id, characters=["Mara", "Bob"])
    assert stale(story_store, 1, take)


def test_imported_pictures_are_never_stale(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 1, record=False, source="imported")
    story_store.characters.update("Mara", description="someone else")
    assert not stale(story_store, 1, take)


def test_takes_without_a_record_fall_back_on_the_prompt_text(story_store: ProjectStore) -> None:
    take = rendered_take(story_store, 1, record=False)
    assert not stale(story_store, 1, take)
    story_store.characters.update("Mara", description="someone else")
    assert stale(story_store, 1, take)
    unrecorded = dataclasses.replace(take, params=dataclasses.replace(take.params, prompt=""))
    assert stale(story_store, 1, unrecorded)


def test_new_identity_framings_make_exactly_the_characters_panels_stale(
    story_store: ProjectStore,
) -> None:
    takes = {n: rendered_take(story_store, n) for n in (1, 2, 3, 4)}
    story_store.characters.update("Bob", identity_framings=["profile view", "full body"])
    assert {n: stale(story_store, n, t) for n, t in takes.items()} == {
        1: False,
        2: True,
        3: True,
        4: False,
    }
    story_store.characters.update("Bob", identity_framings=[])  # back to the defaults
    assert not any(stale(story_store, n, t) for n, t in takes.items())


def test_editing_a_panel_prompt_leaves_the_other_panels_fresh(story_store: ProjectStore) -> None:
    """The identity comes from the character, so a panel edit reaches no other panel."""
    takes = {n: rendered_take(story_store, n) for n in (1, 2, 3, 4)}
    story_store.scenes.update(story_store.scenes.at(1).id, prompt="[Mara] sits on the stairs")
    assert {n: stale(story_store, n, t) for n, t in takes.items()} == {
        1: True,
        2: False,
        3: False,
        4: False,
    }
