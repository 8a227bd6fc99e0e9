"""Transitions between neighbouring scenes (cut, crossfade, flow morph, motion)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storyboard_app.project.damage import read_stored
from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.models import Scene, Transition
from storyboard_app.project.records import TransitionRecord
from storyboard_app.project.scenes import find_scene
from storyboard_app.project.settings import GENERATED_KINDS, TRANSITION_KINDS

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

STATUSES = ("pending", "ready", "failed", "stale")


@dataclass(frozen=True)
class TransitionResult:
    """Everything a transition row holds besides its two scenes: what one save writes."""

    kind: str
    duration: float
    frame_count: int
    status: str
    media: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    from_take_id: int | None = None
    to_take_id: int | None = None


class TransitionRepository:
    def __init__(self, store: ProjectStore) -> None:
        self._store = store

    def list(self) -> list[TransitionRecord]:
        """Every transition; only the scenes they join are read to tell their status, so a
        long story with few transitions reads little (the timeline reads this per change)."""
        with self._store.session() as session:
            rows = session.scalars(select(Transition).order_by(Transition.id)).all()
            if not rows:
                return []
            joined = {row.from_scene_id for row in rows} | {row.to_scene_id for row in rows}
            active = active_takes(session, joined)
            return [to_record(row, active) for row in rows]

    def get(self, transition_id: int) -> TransitionRecord:
        with self._store.session() as session:
            row = find_transition(session, transition_id)
            return to_record(row, active_takes(session, (row.from_scene_id, row.to_scene_id)))

    def set(
        self,
        from_scene_id: int,
        to_scene_id: int,
        *,
        kind: str = "cut",
        duration: float = 0.5,
        frame_count: int = 0,
        settings: dict[str, Any] | None = None,
    ) -> TransitionRecord:
        """Create or replace the transition between two neighbouring scenes.

        Replacing resets it to pending with no media: its frames belonged to the old settings.
        """
        status = "ready" if kind == "cut" else "pending"
        return self.save(
            from_scene_id,
            to_scene_id,
            TransitionResult(kind, duration, frame_count, status, settings=settings or {}),
        )

    def save(
        self, from_scene_id: int, to_scene_id: int, result: TransitionResult
    ) -> TransitionRecord:
        """Create or replace the transition between two neighbours with ``result``, in one
        transaction, so a process killed at any point leaves the old one or the new one."""
        check_result(result)
        missing = [name for name in result.media if not self._store.media.exists(name)]
        if missing:
            raise ValidationError(
                f"Transition media {missing[0]} is not in the project.", "Store the frames first."
            )
        with self._store.session() as session:
            row = neighbour_row(session, from_scene_id, to_scene_id)
            apply_result(row, result)
            session.flush()
            return to_record(row, active_takes(session))

    def save_failure(
        self, from_scene_id: int, to_scene_id: int, result: TransitionResult
    ) -> TransitionRecord:
        """Record a failed attempt, unless a finished transition is already there.

        A ready crossfade, morph or motion is kept (the failed attempt made
        nothing to replace it with); a cut, a pending or an older failed one is
        replaced by the failure, so the timeline shows what went wrong.
        """
        with self._store.session() as session:
            row = neighbour_row(session, from_scene_id, to_scene_id)
            active = active_takes(session)
            if row.id is not None and current_status(row, active) == "ready" and row.kind != "cut":
                return to_record(row, active)
            apply_result(row, dataclasses.replace(result, status="failed", media=()))
            session.flush()
            return to_record(row, active)

    def set_result(
        self, transition_id: int, status: str, media: Sequence[str] = ()
    ) -> TransitionRecord:
        """Record the outcome of generating a transition's frames; frames marked ready are
        taken to be made from the pictures the two panels show now."""
        if status not in STATUSES:
            raise ValidationError(
                f"{status!r} is not a transition status.", f"Use one of {STATUSES}."
            )
        missing = [name for name in media if not self._store.media.exists(name)]
        if missing:
            raise ValidationError(
                f"Transition media {missing[0]} is not in the project.", "Store the frames first."
            )
        with self._store.session() as session:
            row = find_transition(session, transition_id)
            active = active_takes(session)
            row.status = status
            row.media_json = json.dumps(list(media))
            if media:
                row.frame_count = len(media)
            if status == "ready":
                row.from_take_id = active[row.from_scene_id][1]
                row.to_take_id = active[row.to_scene_id][1]
            return to_record(row, active)

    def delete(self, transition_id: int) -> None:
        with self._store.session() as session:
            session.delete(find_transition(session, transition_id))


def check_result(result: TransitionResult) -> None:
    if result.kind not in TRANSITION_KINDS:
        raise ValidationError(
            f"{result.kind!r} is not a transition kind.",
            "Use one of: " + ", ".join(TRANSITION_KINDS) + ".",
        )
    if not 0 <= result.duration <= 60:
        raise ValidationError(
            f"A transition of {result.duration:g} s is out of range.", "Use 0 to 60 seconds."
        )
    if result.frame_count < 0:
        raise ValidationError("A transition cannot have a negative frame count.", "Use 0 or more.")
    if result.status not in STATUSES:
        raise ValidationError(
            f"{result.status!r} is not a transition status.", f"Use one of {STATUSES}."
        )


def neighbour_row(session: Session, from_scene_id: int, to_scene_id: int) -> Transition:
    """The row joining two neighbouring scenes, added to the session if there is none yet
    (its ``id`` is None until flushed)."""
    start, end = find_scene(session, from_scene_id), find_scene(session, to_scene_id)
    if end.position != start.position + 1:
        raise ValidationError(
            f"Panels {start.position + 1} and {end.position + 1} are not neighbours.",
            "A transition joins a panel to the next one.",
        )
    row = session.scalar(
        select(Transition).where(
            Transition.from_scene_id == start.id, Transition.to_scene_id == end.id
        )
    )
    if row is None:
        row = Transition(from_scene_id=start.id, to_scene_id=end.id)
        session.add(row)
    return row


def apply_result(row: Transition, result: TransitionResult) -> None:
    row.kind = result.kind
    row.duration = result.duration
    row.frame_count = len(result.media) if result.media else result.frame_count
    row.status = result.status
    row.media_json = json.dumps(list(result.media))
    row.settings_json = json.dumps(result.settings, sort_keys=True)
    row.from_take_id = result.from_take_id
    row.to_take_id = result.to_take_id


def find_transition(session: Session, transition_id: int) -> Transition:
    row = session.get(Transition, transition_id)
    if row is None:
        raise NotFoundError(
            f"There is no transition {transition_id}.", "List the transitions first."
        )
    return row


def active_takes(
    session: Session, scene_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, int | None]]:
    """Each scene's position and active take id (of ``scene_ids`` only, when given), to tell
    which transitions' frames are stale."""
    query = select(Scene.id, Scene.position, Scene.active_take_id)
    if scene_ids is not None:
        query = query.where(Scene.id.in_(sorted(scene_ids)))
    rows = session.execute(query)
    return {scene_id: (position, take_id) for scene_id, position, take_id in rows}


def current_status(row: Transition, scenes: dict[int, tuple[int, int | None]]) -> str:
    """The stored status, or ``stale`` for a morph or motion that no longer fits: its
    panels are not neighbours any more (a reorder), or its ready frames were made from
    another picture than a panel shows now (another take chosen, a new render, a deleted
    take).

    Worked out on every read, so everything that shows a transition sees the same
    status, and undoing the change makes the frames fresh again.
    """
    if row.kind not in GENERATED_KINDS:
        return row.status
    start, end = scenes.get(row.from_scene_id), scenes.get(row.to_scene_id)
    if start is None or end is None or end[0] != start[0] + 1:
        return "stale"
    if row.status != "ready":
        return row.status
    return "ready" if (row.from_take_id, row.to_take_id) == (start[1], end[1]) else "stale"


def to_record(row: Transition, active: dict[int, tuple[int, int | None]]) -> TransitionRecord:
    damaged = TransitionRecord(  # what a damaged row reads as in the app: a cut to remake
        id=row.id,
        from_scene_id=row.from_scene_id,
        to_scene_id=row.to_scene_id,
        kind="cut",
        duration=0.0,
        frame_count=0,
        status="failed",
        media=(),
        settings={},
    )
    return read_stored(row, lambda: _stored_record(row, active), damaged)


def _stored_record(row: Transition, active: dict[int, tuple[int, int | None]]) -> TransitionRecord:
    """The row as a record, every stored value checked like input (the file may be damaged)."""
    what = _transition_name(row, active)
    _check_stored(row.kind in TRANSITION_KINDS, what, "kind", row.kind)
    _check_stored(row.status in STATUSES, what, "status", row.status)
    duration = row.duration
    _check_stored(
        isinstance(duration, int | float)
        and not isinstance(duration, bool)
        and math.isfinite(duration)
        and 0 <= duration <= 60,
        what,
        "duration",
        duration,
    )
    frame_count = row.frame_count
    _check_stored(
        isinstance(frame_count, int) and not isinstance(frame_count, bool) and frame_count >= 0,
        what,
        "frame count",
        frame_count,
    )
    media = _stored_json(row.media_json, what, "frame list")
    _check_stored(
        isinstance(media, list) and all(isinstance(name, str) for name in media),
        what,
        "frame list",
        row.media_json,
    )
    settings = _stored_json(row.settings_json, what, "settings")
    _check_stored(isinstance(settings, dict), what, "settings", row.settings_json)
    return TransitionRecord(
        id=row.id,
        from_scene_id=row.from_scene_id,
        to_scene_id=row.to_scene_id,
        kind=row.kind,
        duration=float(duration),
        frame_count=frame_count,
        status=current_status(row, active),
        media=tuple(media),
        settings=settings,
        from_take_id=row.from_take_id,
        to_take_id=row.to_take_id,
    )


def _transition_name(row: Transition, active: dict[int, tuple[int, int | None]]) -> str:
    start, end = active.get(row.from_scene_id), active.get(row.to_scene_id)
    if start is None or end is None:
        return f"transition {row.id}"
    return f"the transition between panels {start[0] + 1} and {end[0] + 1}"


def _stored_json(text: object, what: str, field_name: str) -> object:
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (ValueError, TypeError, RecursionError):
        raise _stored_error(what, field_name, text) from None


def _check_stored(ok: bool, what: str, field_name: str, value: object) -> None:
    if not ok:
        raise _stored_error(what, field_name, value)


def _stored_error(what: str, field_name: str, value: object) -> ValidationError:
    return ValidationError(
        f"The {field_name} of {what} in the project database is unreadable ({str(value)[:80]!r}).",
        "The project file was changed outside Storyboard or is damaged; set that "
        "transition again (or delete it), or restore the project from a backup.",
    )
