"""Scenes: the panels of the story, in timeline order.

Positions are kept dense (0..n-1). After any change of order, a cut or
crossfade whose scenes are no longer neighbours moves to the new neighbours (it
needs no frames); a morph or motion stays with its two scenes and reads as
stale until they are neighbours again: its frames are never reattached to
other panels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session, selectinload

from storyboard_app.project.camera import CameraMove
from storyboard_app.project.characters import find_character
from storyboard_app.project.damage import read_stored
from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.models import Character, ProjectSettingsRow, Scene, Take, Transition
from storyboard_app.project.records import SceneRecord
from storyboard_app.project.render_guard import blank_prompt
from storyboard_app.project.seeds import check_seed, derive_seed
from storyboard_app.project.settings import FRAMELESS_KINDS, SHOT_TYPES
from storyboard_app.project.tags import NO_CHARACTER_TAG, find_tags

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

DEFAULT_DURATION = 2.0
TEXT_FIELDS = ("prompt", "negative_prompt", "caption", "dialogue", "notes", "shot_type")
EDITABLE_FIELDS = {*TEXT_FIELDS, "duration", "seed", "seed_locked", "characters", "camera_move"}


class SceneRepository:
    """Adds, edits, reorders and deletes scenes; every call is one committed transaction."""

    def __init__(self, store: ProjectStore) -> None:
        self._store = store

    def list(self) -> list[SceneRecord]:
        """Every panel in story order, in three queries whatever the story's length
        (scenes, their characters, their take counts): views read this on every change."""
        with self._store.session() as session:
            rows = session.scalars(
                select(Scene)
                .order_by(Scene.position, Scene.id)
                .options(selectinload(Scene.characters))
            )
            counts = take_counts(session)
            return [to_record(session, row, counts.get(row.id, 0)) for row in rows]

    def get(self, scene_id: int) -> SceneRecord:
        with self._store.session() as session:
            return to_record(session, find_scene(session, scene_id))

    def at(self, number: int) -> SceneRecord:
        """The scene with 1-based panel ``number``."""
        with self._store.session() as session:
            return to_record(session, scene_at(session, number))

    def add(self, prompt: str, *, position: int | None = None, **fields: Any) -> SceneRecord:
        """Add a panel (at the end unless ``position``); ``fields`` are those of :func:`add_scene`.

        Characters are the union of ``characters`` and the prompt's tags. An empty
        prompt is refused unless ``allow_empty_prompt`` (a new panel the artist is
        about to describe; rendering it is refused until they do).
        """
        with self._store.session() as session:
            return to_record(session, add_scene(session, prompt, position=position, **fields))

    def update(
        self, scene_id: int, *, allow_empty_prompt: bool = False, **changes: Any
    ) -> SceneRecord:
        """Change fields of a panel; an empty prompt only with ``allow_empty_prompt`` (undo
        putting back a panel that had none yet)."""
        return self.edit(scene_id, allow_empty_prompt=allow_empty_prompt, **changes)[1]

    def edit(
        self, scene_id: int, *, allow_empty_prompt: bool = False, **changes: Any
    ) -> tuple[SceneRecord, SceneRecord]:
        """:meth:`update`, returning the panel as it was and as it is now, both read in the
        edit's own transaction: an undoable edit keeps the first, without a read of its own
        before (one transaction less on every edit the artist makes)."""
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise ValidationError(
                f"Unknown scene field(s): {', '.join(sorted(unknown))}.",
                "Editable: " + ", ".join(sorted(EDITABLE_FIELDS)) + ".",
            )
        with self._store.session() as session:
            row = find_scene(session, scene_id)
            take_count = count_takes(session, scene_id)
            before = to_record(session, row, take_count)
            apply_scene_changes(session, row, changes, allow_empty_prompt)
            return before, to_record(session, row, take_count)

    def move(self, scene_id: int, new_position: int) -> list[int]:
        """Move a scene to 0-based ``new_position``; returns ids of morph and motion
        transitions whose panels stopped being neighbours."""
        with self._store.session() as session:
            rows = ordered_scenes(session)
            row = find_scene(session, scene_id)
            if not 0 <= new_position < len(rows):
                raise ValidationError(
                    f"Position {new_position + 1} is outside the story.",
                    f"Choose a panel number from 1 to {len(rows)}.",
                )
            before = neighbour_map(session)
            rows.remove(row)
            rows.insert(new_position, row)
            renumber(rows)
            apart = relink_transitions(session)
            parted = session.scalars(
                select(Transition).where(Transition.id.in_(apart)).order_by(Transition.id)
            )
            return [t.id for t in parted if before.get(t.from_scene_id) == t.to_scene_id]

    def delete(self, scene_id: int) -> None:
        """Delete a scene with its takes and the transitions that touch it."""
        with self._store.session() as session:
            row = find_scene(session, scene_id)
            dense, position = positions_dense(session), row.position
            session.delete(row)
            session.flush()
            if dense:
                shift_positions(session, position + 1, -1, without=scene_id)
            else:
                renumber(ordered_scenes(session))
            relink_transitions(session)


def add_scene(
    session: Session,
    prompt: str,
    *,
    characters: Sequence[str] = (),
    position: int | None = None,
    negative_prompt: str = "",
    caption: str = "",
    dialogue: str = "",
    notes: str = "",
    shot_type: str = "",
    duration: float | None = None,
    seed: int | None = None,
    seed_locked: bool = False,
    camera_move: CameraMove | None = None,
    allow_empty_prompt: bool = False,
) -> Scene:
    count = session.scalar(select(func.count()).select_from(Scene)) or 0
    appending = position is None or position == count
    position = count if position is None else position
    if not 0 <= position <= count:
        raise ValidationError(
            f"Position {position + 1} is outside the story.",
            f"Choose a panel number from 1 to {count + 1}.",
        )
    fields = {
        "prompt": prompt,
        "characters": characters,
        "negative_prompt": negative_prompt,
        "caption": caption,
        "dialogue": dialogue,
        "notes": notes,
        "shot_type": shot_type,
        "seed_locked": seed_locked,
        "camera_move": camera_move,
        "duration": duration,
        "seed": seed,
    }
    row = _new_scene(session, position, _next_serial(session), fields, allow_empty_prompt)
    session.add(row)
    if not appending:
        place_among(session, row, position)
    session.flush()
    return row


def append_scenes(session: Session, panels: Sequence[Mapping[str, Any]]) -> list[Scene]:
    """Append panels in story order, each ``{"prompt": ..., **fields of add_scene}``, in
    one flush: the rows, seeds and checks of ``add_scene`` called for each in turn,
    without its five statements a panel (what keeps importing a long script fast)."""
    count = session.scalar(select(func.count()).select_from(Scene)) or 0
    serial = _next_serial(session)
    cast = {c.name: c for c in session.scalars(select(Character))}
    rows = []
    for offset, panel in enumerate(panels):
        rows.append(_new_scene(session, count + offset, serial + offset, panel, cast=cast))
    session.add_all(rows)
    session.flush()
    return rows


def _next_serial(session: Session) -> int:
    """The id the next panel will get (SQLite gives the largest id plus one)."""
    return (session.scalar(select(func.max(Scene.id))) or 0) + 1


def _new_scene(
    session: Session,
    position: int,
    serial: int,
    fields: Mapping[str, Any],
    allow_empty_prompt: bool = False,
    cast: Mapping[str, Character] | None = None,
) -> Scene:
    """A checked, not yet added panel of ``fields`` (a prompt and the fields
    :func:`apply_scene_changes` takes; a duration or seed of None keeps the default:
    the duration's, and a seed derived from ``serial``)."""
    changes = {k: v for k, v in fields.items() if v is not None or k not in ("duration", "seed")}
    base_seed = session.get_one(ProjectSettingsRow, 1).base_seed
    row = Scene(
        position=position,
        prompt="",
        seed=derive_seed(base_seed, f"scene:{serial}") if "seed" not in changes else 0,
        duration=DEFAULT_DURATION,
    )
    apply_scene_changes(session, row, changes, allow_empty_prompt, cast)
    return row


def place_among(session: Session, row: Scene, position: int) -> None:
    """Insert a new ``row`` at ``position`` and fit the transitions to the new order.

    Appending needs neither: no panel moves and every cut keeps its neighbours,
    which keeps importing a long script linear. The panels after it move on by
    one in a single statement when the positions are dense (as every write
    leaves them); otherwise every panel is numbered again.
    """
    session.flush()
    if positions_dense(session, without=row.id):
        shift_positions(session, position, 1, without=row.id)
    else:
        rows = [r for r in ordered_scenes(session) if r is not row]
        rows.insert(position, row)
        renumber(rows)
    session.flush()
    relink_transitions(session)


def positions_dense(session: Session, without: int | None = None) -> bool:
    """Whether the panels (but ``without``) hold positions 0 to n-1, each once."""
    query = select(
        func.count(),
        func.count(distinct(Scene.position)),
        func.min(Scene.position),
        func.max(Scene.position),
    )
    if without is not None:
        query = query.where(Scene.id != without)
    count, different, low, high = session.execute(query).one()
    return count == 0 or (count == different and low == 0 and high == count - 1)


def shift_positions(session: Session, start: int, step: int, without: int) -> None:
    """Move every panel from position ``start`` on by ``step``, in one statement."""
    session.execute(
        update(Scene)
        .where(Scene.position >= start, Scene.id != without)
        .values(position=Scene.position + step)
        .execution_options(synchronize_session="evaluate")
    )


def apply_scene_changes(
    session: Session,
    row: Scene,
    changes: dict[str, Any],
    allow_empty_prompt: bool = False,
    cast: Mapping[str, Character] | None = None,
) -> None:
    """Validate and apply field changes; tags in a new prompt add their characters
    (looked up in ``cast`` by name when given, else in the store)."""
    what = f"panel {row.position + 1}"
    if "prompt" in changes:
        row.prompt = check_prompt(changes["prompt"], what, allow_empty_prompt)
    if "shot_type" in changes:
        row.shot_type = check_shot_type(changes["shot_type"])
    for field in ("negative_prompt", "caption", "dialogue", "notes"):
        if field in changes:
            setattr(row, field, str(changes[field]).strip())
    if "duration" in changes:
        row.duration = check_duration(float(changes["duration"]), what)
    if "seed" in changes:
        row.seed = check_seed(int(changes["seed"]), what)
    if "seed_locked" in changes:
        row.seed_locked = bool(changes["seed_locked"])
    if "camera_move" in changes:
        row.camera_move = check_camera_move(changes["camera_move"])
    if "characters" in changes or "prompt" in changes:
        listed = changes.get("characters")
        if listed is None:
            listed = [c.name for c in row.characters]
        row.characters = resolve_characters(session, listed, row.prompt, cast)


def resolve_characters(
    session: Session,
    listed: Iterable[str],
    prompt: str,
    cast: Mapping[str, Character] | None = None,
) -> list[Character]:
    """Characters of a panel: those listed plus those tagged in the prompt, each once
    (from ``cast`` when it names them; an unknown name is looked up, and refused, in the
    store)."""
    tags = [tag for tag in find_tags(prompt) if tag != NO_CHARACTER_TAG]
    if NO_CHARACTER_TAG in find_tags(prompt) and (tags or list(listed)):
        raise ValidationError(
            "A panel marked [NC] (no characters) also names characters.",
            "Remove [NC] or remove the character tags.",
        )
    names = list(dict.fromkeys([*(n.strip() for n in listed if n.strip()), *tags]))
    known = cast or {}
    rows = [known.get(name.strip()) or find_character(session, name) for name in names]
    return sorted(rows, key=lambda c: c.position)


def check_prompt(prompt: str, what: str, allow_empty: bool = False) -> str:
    prompt = str(prompt).strip()
    if blank_prompt(prompt) and not allow_empty:
        raise ValidationError(
            f"The prompt of {what} is empty.",
            "Describe what the panel shows, e.g. '[Mara] opens the door'.",
        )
    return prompt


def check_camera_move(move: CameraMove | None) -> str | None:
    """The JSON stored for a camera move (None removes it)."""
    if move is None:
        return None
    if not isinstance(move, CameraMove):
        raise ValidationError(
            "A camera move must be a CameraMove.", "Build one with start/end framings."
        )
    return move.to_json()


def check_shot_type(shot_type: str) -> str:
    shot_type = str(shot_type).strip().lower()
    if shot_type not in SHOT_TYPES:
        raise ValidationError(
            f"{shot_type!r} is not a shot type.",
            "Use one of: " + ", ".join(s for s in SHOT_TYPES if s) + ".",
        )
    return shot_type


_HINT_STORED = (
    "The project file was changed outside Storyboard or is damaged; "
    "restore it from a backup, or set that value again in the app."
)


def check_duration(duration: float, what: str) -> float:
    if not 0.04 <= duration <= 3600:
        raise ValidationError(
            f"The duration {duration:g} s of {what} is out of range.",
            "Use a duration from 0.04 to 3600 seconds.",
        )
    return duration


def ordered_scenes(session: Session) -> list[Scene]:
    return list(session.scalars(select(Scene).order_by(Scene.position, Scene.id)))


def renumber(rows: Sequence[Scene]) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position


def find_scene(session: Session, scene_id: int) -> Scene:
    row = session.get(Scene, scene_id) if 0 < scene_id < 2**63 else None
    if row is None:
        raise NotFoundError(
            f"There is no scene with id {scene_id}.", "List scenes to see their ids."
        )
    return row


def scene_at(session: Session, number: int) -> Scene:
    """The panel numbered ``number`` (1 = first), or one message for any number the
    story lacks, even one too large for an SQLite integer."""
    count = session.scalar(select(func.count()).select_from(Scene)) or 0
    row = None
    if 1 <= number <= count:
        row = session.scalar(select(Scene).where(Scene.position == number - 1))
    if row is None:
        size = f"{count} panel{'s' if count != 1 else ''}" if count else "no panels"
        raise NotFoundError(
            f"Panel {number} is outside the story (it has {size}).",
            f"Panels are numbered 1 to {count}." if count else "Add a panel first.",
        )
    return row


def neighbour_map(session: Session) -> dict[int, int]:
    """``{scene id: id of the scene after it}`` in story order."""
    session.flush()
    order = list(session.scalars(select(Scene.id).order_by(Scene.position, Scene.id)))
    return dict(itertools.pairwise(order))


def relink_transitions(session: Session) -> list[int]:
    """Fit the transitions to a new order of panels; returns the ids of morphs and
    motions whose panels are not neighbours.

    Those keep their frames but read as stale (see ``transitions.current_status``)
    until their panels are neighbours again. A cut or crossfade needs no frames,
    so it moves with its first panel to that panel's new next one (or, for a
    panel now last, with its second panel to its new previous one); it is
    dropped only when both of those cuts already have a transition.
    """
    following = neighbour_map(session)
    preceding = {after: before for before, after in following.items()}
    rows = list(session.scalars(select(Transition).order_by(Transition.id)))
    pairs = {(r.from_scene_id, r.to_scene_id) for r in rows}
    cuts_taken = {r.from_scene_id for r in rows if following.get(r.from_scene_id) == r.to_scene_id}
    apart: list[int] = []
    for row in rows:
        if following.get(row.from_scene_id) == row.to_scene_id:
            continue
        if row.kind not in FRAMELESS_KINDS:
            apart.append(row.id)
            continue
        candidates = [
            (row.from_scene_id, following.get(row.from_scene_id)),
            (preceding.get(row.to_scene_id), row.to_scene_id),
        ]
        free = [
            (a, b)
            for a, b in candidates
            if a is not None and b is not None and a not in cuts_taken and (a, b) not in pairs
        ]
        if not free:
            session.delete(row)
            continue
        pairs.discard((row.from_scene_id, row.to_scene_id))
        row.from_scene_id, row.to_scene_id = free[0]
        pairs.add(free[0])
        cuts_taken.add(free[0][0])
    return apart


def take_counts(session: Session) -> dict[int, int]:
    """``{scene id: number of takes}`` for every scene that has any, in one query."""
    query = select(Take.scene_id, func.count()).group_by(Take.scene_id)
    return {scene_id: count for scene_id, count in session.execute(query)}


def count_takes(session: Session, scene_id: int) -> int:
    query = select(func.count()).select_from(Take).where(Take.scene_id == scene_id)
    return session.scalar(query) or 0


def to_record(session: Session, row: Scene, take_count: int | None = None) -> SceneRecord:
    """The plain record of ``row``; ``take_count`` when the caller counted them all at once."""
    if take_count is None:
        take_count = count_takes(session, row.id)
    return SceneRecord(
        id=row.id,
        position=row.position,
        prompt=row.prompt,
        negative_prompt=row.negative_prompt,
        caption=row.caption,
        dialogue=row.dialogue or "",
        notes=row.notes,
        shot_type=row.shot_type,
        duration=read_stored(
            row,
            lambda: stored_duration(row.duration, f"panel {row.position + 1}"),
            DEFAULT_DURATION,
        ),
        seed=row.seed,
        seed_locked=row.seed_locked,
        character_names=tuple(c.name for c in row.characters),
        active_take_id=row.active_take_id,
        take_count=take_count or 0,
        camera_move=read_stored(row, lambda: _stored_camera_move(row), None),
        take_picked=bool(row.active_take_picked),
    )


def stored_duration(value: object, what: str) -> float:
    """A duration read from the database, checked as strictly as one typed in."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(
            f"The project database holds {value!r} as the duration of {what}, "
            "which is not a number of seconds.",
            _HINT_STORED,
        )
    try:
        return check_duration(float(value), what)
    except ValidationError as error:
        raise ValidationError(
            f"The project database holds a bad value: {error.message}", _HINT_STORED
        ) from None


def _stored_camera_move(row: Scene) -> CameraMove | None:
    if not row.camera_move:
        return None
    try:
        return CameraMove.from_json(row.camera_move)
    except ValidationError as error:
        problem = error.message
    except KeyError as error:
        problem = f"no {error} framing"
    except (ValueError, TypeError, AttributeError, RecursionError) as error:
        problem = str(error) or type(error).__name__
    raise ValidationError(
        f"The camera move of panel {row.position + 1} in the project database is "
        f"unreadable ({problem[:200]}).",
        _HINT_STORED,
    )
