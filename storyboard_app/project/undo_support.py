"""Store additions the desktop app needs: undo snapshots and the identity a take was rendered with.

Deleting a scene deletes its takes and the transitions that touch it; deleting a
character unlinks it from its panels. To undo such a delete the app takes a
snapshot first and restores it later, rows under their old ids where those are
free, so every other command on the undo stack still finds what it refers to.
Take ids can be taken meanwhile (a render adds takes without going through the
undo stack), so :func:`restore_scene` and :func:`restore_take` report the id a
take got back.

The second part records which character identities a rendered take was made
with (:func:`record_take_identities`), so the app can tell when a panel is stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storyboard_app.project.characters import find_character
from storyboard_app.project.characters import to_record as character_record
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.ip_adapters import ip_adapter_signature
from storyboard_app.project.loras import PlacedLora, character_loras, insert_loras
from storyboard_app.project.models import Character, Scene, Take, Transition
from storyboard_app.project.records import (
    CharacterRecord,
    SceneRecord,
    TakeRecord,
    TransitionRecord,
)
from storyboard_app.project.scenes import (
    check_camera_move,
    find_scene,
    ordered_scenes,
    relink_transitions,
    renumber,
)
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.takes import find_take, take_row
from storyboard_app.project.takes import to_record as take_record

IDENTITIES_KEY = "identities"


@dataclass(frozen=True)
class SceneSnapshot:
    """A scene with everything its delete removes: takes, and every transition's state."""

    scene: SceneRecord
    takes: tuple[TakeRecord, ...]
    transitions: tuple[TransitionRecord, ...]


@dataclass(frozen=True)
class CharacterSnapshot:
    """A character, the panels that name it and its own LoRAs (deleted with it)."""

    character: CharacterRecord
    scene_ids: tuple[int, ...]
    loras: tuple[PlacedLora, ...] = ()


def snapshot_scene(store: ProjectStore, scene_id: int) -> SceneSnapshot:
    with store.session() as session:
        row = find_scene(session, scene_id)
        takes = tuple(take_record(take) for take in row.takes)
    return SceneSnapshot(store.scenes.get(scene_id), takes, tuple(store.transitions.list()))


def restore_scene(store: ProjectStore, snapshot: SceneSnapshot) -> dict[int, int]:
    """Put a deleted scene back at its position with its takes and transitions.

    Returns ``{old take id: new take id}`` for takes whose id was taken meanwhile.
    """
    record = snapshot.scene
    with store.session() as session:
        rows = ordered_scenes(session)
        row = Scene(
            id=record.id,
            position=record.position,
            prompt=record.prompt,
            negative_prompt=record.negative_prompt,
            caption=record.caption,
            dialogue=record.dialogue,
            notes=record.notes,
            shot_type=record.shot_type,
            duration=record.duration,
            seed=record.seed,
            seed_locked=record.seed_locked,
            camera_move=check_camera_move(record.camera_move),
        )
        row.characters = [find_character(session, name) for name in record.character_names]
        session.add(row)
        rows.insert(min(record.position, len(rows)), row)
        renumber(rows)
        session.flush()
        remap = {take.id: _insert_take(session, take) for take in snapshot.takes}
        if record.active_take_id is not None:
            row.active_take_id = remap[record.active_take_id]
            row.active_take_picked = record.take_picked
        _restore_transitions(session, snapshot.transitions)
    return {old: new for old, new in remap.items() if old != new}


def snapshot_transitions(store: ProjectStore) -> tuple[TransitionRecord, ...]:
    """Every transition as it is now: a reorder marks some stale, undo puts them back."""
    return tuple(store.transitions.list())


def restore_transitions(store: ProjectStore, transitions: Sequence[TransitionRecord]) -> None:
    with store.session() as session:
        _restore_transitions(session, transitions)


def _restore_transitions(session: Session, transitions: Sequence[TransitionRecord]) -> None:
    """Put every transition back as it was: re-add deleted ones, and return moved ones
    (a reorder moves cuts and crossfades to new neighbours) to their old panels.

    The recorded rows are removed and written again, so a pair a moved
    transition holds now is free before another one returns to it. A
    transition whose scenes are gone is skipped: it cannot exist without them;
    a take it was made from that is gone is forgotten (its frames read as stale).
    """
    scene_ids = set(session.scalars(select(Scene.id)))
    kept = [r for r in transitions if {r.from_scene_id, r.to_scene_id} <= scene_ids]
    for record in kept:
        row = session.get(Transition, record.id)
        if row is not None:
            session.delete(row)
    session.flush()
    for record in kept:
        session.add(restored_transition(session, record))


def restored_transition(session: Session, record: TransitionRecord) -> Transition:
    """The row of a recorded transition; a status that was only worked out (``stale``
    frames, see ``transitions.current_status``) is stored as the ``ready`` it was."""
    worked_out = record.status == "stale" and bool(record.media)
    return Transition(
        id=record.id,
        from_scene_id=record.from_scene_id,
        to_scene_id=record.to_scene_id,
        kind=record.kind,
        duration=record.duration,
        frame_count=record.frame_count,
        status="ready" if worked_out else record.status,
        media_json=json.dumps(list(record.media)),
        settings_json=json.dumps(record.settings, sort_keys=True),
        from_take_id=existing_take(session, record.from_take_id),
        to_take_id=existing_take(session, record.to_take_id),
    )


def existing_take(session: Session, take_id: int | None) -> int | None:
    return take_id if take_id is not None and session.get(Take, take_id) is not None else None


def restore_take(
    store: ProjectStore, take: TakeRecord, *, make_active: bool, picked: bool = False
) -> int:
    """Put a deleted take back (its media file is still in the project); returns its id.

    ``picked``: it was the active take because the artist chose it, and is again."""
    with store.session() as session:
        scene = find_scene(session, take.scene_id)
        take_id = _insert_take(session, take)
        if make_active:
            scene.active_take_id = take_id
            scene.active_take_picked = picked
    return take_id


def _insert_take(session: Session, record: TakeRecord) -> int:
    """Insert a take under its old id, or a new one when a later take has taken it."""
    free = session.get(Take, record.id) is None
    row = take_row(
        record.scene_id,
        record.media,
        record.params,
        id=record.id if free else None,
        created_at=record.created_at,
        number=record.number,
    )
    session.add(row)
    session.flush()
    return row.id


def snapshot_character(store: ProjectStore, character_id: int) -> CharacterSnapshot:
    with store.session() as session:
        row = find_character(session, character_id)
        return CharacterSnapshot(
            character_record(row),
            tuple(sorted(scene.id for scene in row.scenes)),
            character_loras(session, row),
        )


def restore_character(store: ProjectStore, snapshot: CharacterSnapshot) -> None:
    """Put a deleted character back at its place in the list, in the panels naming it
    and with its LoRAs, in one transaction: its look signs as before, so the panels
    that were fresh are fresh again."""
    record = snapshot.character
    with store.session() as session:
        rows = list(session.scalars(select(Character).order_by(Character.position)))
        row = Character(
            id=record.id,
            name=record.name,
            description=record.description,
            negative_prompt=record.negative_prompt,
            seed=record.seed,
            color=record.color,
            reference_media=record.reference_media,
            position=record.position,
            identity_framings=json.dumps(list(record.identity_framings)),
            reference_strength=record.reference_strength,
            ip_adapter=record.ip_adapter,
            ip_adapter_scale=record.ip_adapter_scale,
        )
        session.add(row)
        rows.insert(min(record.position, len(rows)), row)
        for position, item in enumerate(rows):
            item.position = position
        for scene_id in snapshot.scene_ids:
            scene = session.get(Scene, scene_id)
            if scene is not None:
                scene.characters = sorted([*scene.characters, row], key=lambda c: c.position)
        session.flush()
        insert_loras(session, snapshot.loras)


def reorder_scenes(store: ProjectStore, scene_ids: Sequence[int]) -> None:
    """Put every scene in the order of ``scene_ids`` in one transaction.

    A drag can move several panels at once; doing it in one step keeps one undo
    step and one database commit. Transitions whose scenes stop being neighbours
    become stale, as with ``SceneRepository.move``.
    """
    with store.session() as session:
        rows = {row.id: row for row in ordered_scenes(session)}
        if sorted(rows) != sorted(scene_ids):
            raise ValidationError(
                "The new panel order does not list every panel once.",
                "Reload the project and try again.",
            )
        renumber([rows[scene_id] for scene_id in scene_ids])
        relink_transitions(session)


def set_reference_media(store: ProjectStore, character_id: int, media: str | None) -> None:
    """Point a character at a reference image already in the project (undo of a change)."""
    with store.session() as session:
        find_character(session, character_id).reference_media = media


def identity_signature(
    description: str,
    negative_prompt: str,
    seed: int,
    framings: Sequence[str] = (),
    reference: str | None = None,
    strength: float = 1.0,
    loras: Sequence[str] = (),
    ip_adapter: str | None = None,
) -> str:
    """What makes a character look like itself in a render: its prompts, framings, seed
    and reference picture (its content hash) with its strength, its own LoRAs
    (:func:`lora_signature` of each one in use) and the IP-Adapter reading its picture
    (:func:`~storyboard_app.project.ip_adapters.ip_adapter_signature`, None if none).

    The name is left out on purpose: renaming a character does not change a picture.
    The default framings (none set) and no picture (or one at strength 0) sign as
    before those existed, so takes rendered then stay fresh.
    """
    parts: list[object] = [description.strip(), negative_prompt.strip(), int(seed)]
    if framings:
        parts.append(list(framings))
    if reference is not None and strength > 0:
        parts.append({"reference": reference, "strength": float(strength)})
    if loras:
        parts.append({"loras": sorted(loras)})
    if ip_adapter is not None:
        parts.append({"ip_adapter": ip_adapter})
    text = json.dumps(parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def character_signature(character: CharacterRecord) -> str:
    return identity_signature(
        character.description,
        character.negative_prompt,
        character.seed,
        character.identity_framings,
        reference_digest(character.reference_media),
        character.reference_strength,
        character.loras,
        ip_adapter_signature(
            character.ip_adapter,
            character.ip_adapter_scale,
            reference_digest(character.reference_media),
        ),
    )


def reference_digest(media_name: str | None) -> str | None:
    """The content hash of a stored reference picture (media names are ``<sha256>.<ext>``)."""
    return None if media_name is None else media_name.partition(".")[0]


def record_take_identities(
    store: ProjectStore, take_id: int, signatures: Mapping[int, str]
) -> None:
    """Note which identities (character id -> signature) a rendered take was made with.

    Kept in the take's consistency record, next to the other consistency settings
    that produced it, so it is copied, exported and deleted with the take.
    """
    with store.session() as session:
        row = find_take(session, take_id)
        record = json.loads(row.consistency_json)
        record[IDENTITIES_KEY] = {str(key): value for key, value in signatures.items()}
        row.consistency_json = json.dumps(record, sort_keys=True)


def take_identities(take: TakeRecord) -> dict[int, str] | None:
    """The identities recorded for a take, or None for takes rendered without a record."""
    recorded = take.params.consistency.get(IDENTITIES_KEY)
    if not isinstance(recorded, dict):
        return None
    return {int(key): str(value) for key, value in recorded.items()}
