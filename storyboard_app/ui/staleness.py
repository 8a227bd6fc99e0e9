"""When is a panel's picture stale? One rule, from plain records.

A rendered take records the identity of every character it was rendered with
(``undo_support.record_take_identities``: a signature of the character's
description, negative prompt and seed, by character id). The active take of a
panel is **stale** when, for the characters the panel names now:

- a character's current signature differs from the recorded one (its look or
  seed was edited since), or
- the panel names a character the take was not rendered with, or no longer
  names one it was (the cast changed).

Renaming a character changes no picture, so the name is not part of it; undoing
an edit brings the old signature back and the panel is fresh again. Imported
pictures are never stale. Takes rendered without a record (by the command line)
fall back on their text: stale when a character's description or negative
prompt no longer appears in the prompts the take was rendered with.
"""

from __future__ import annotations

from collections.abc import Mapping

from storyboard_app.project.records import CharacterRecord, SceneRecord, TakeRecord
from storyboard_app.project.undo_support import character_signature, take_identities


def is_stale(
    take: TakeRecord, scene: SceneRecord, characters: Mapping[str, CharacterRecord]
) -> bool:
    if take.params.source != "rendered":
        return False
    cast = [characters[name] for name in scene.character_names if name in characters]
    recorded = take_identities(take)
    if recorded is None:
        return any(_text_changed(take, character) for character in cast)
    if set(recorded) != {character.id for character in cast}:
        return True
    return any(recorded[c.id] != character_signature(c) for c in cast)


def _text_changed(take: TakeRecord, character: CharacterRecord) -> bool:
    if character.description not in take.params.prompt:
        return True
    negative = character.negative_prompt
    return bool(negative) and negative not in take.params.negative_prompt
