"""ChangeWatch: has anyone else committed to the project database since we last looked?

SQLite's ``PRAGMA data_version`` changes, on one connection, whenever another
connection commits, in this process or any other. So the watch keeps its own
connection open for as long as it watches (a fresh connection would have
nothing to compare with) and only ever reads that pragma: one cheap call, no
table is read and nothing is written. The connection is opened through SQLite
(read-only), never with a plain ``open()`` of the file, which would drop the
process's POSIX locks on it when closed.

When the version changed, a :class:`ProjectSnapshot` of the rows behind what
the views show, compared with the previous one (:func:`changes_between`),
tells what changed, so only that is read again. Panels are compared by the
revision SQLite's triggers set whenever a panel, its cast or its takes change
(migrations 0017 and 0018): the next value of a story clock, so a look reads
only the panels changed since the clock it last saw, not every panel.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

logger = logging.getLogger(__name__)

# The pragma needs the read lock for an instant; never hold the UI thread for long.
WATCH_BUSY_TIMEOUT_S = 0.05


class ChangeWatch:
    """A long-lived read-only connection whose ``data_version`` tells of others' commits."""

    def __init__(self, database: Path) -> None:
        uri = f"{Path(database).absolute().as_uri()}?mode=ro"
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            uri, uri=True, timeout=WATCH_BUSY_TIMEOUT_S, isolation_level=None
        )
        self._version = self._read()

    def changed(self) -> bool:
        """True once for each look after which some other connection has committed.

        A look that cannot read (the database is busy for a moment) says False
        and the next look catches up, since the version keeps its new value.
        """
        version = self._read()
        if version is None or version == self._version:
            return False
        self._version = version
        return True

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _read(self) -> int | None:
        if self._connection is None:
            return None
        try:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as error:
            logger.debug("could not read the project's data version: %s", error)
            return None


Row = tuple[Any, ...]
Marks = Mapping[int, tuple[int, int]]  # panel id -> (position, revision)


@dataclass(frozen=True)
class ProjectSnapshot:
    """What the views show, as the stored rows: compared to tell what another program changed.

    Rows, not records: a look after every commit (the window's own included)
    must stay cheap at a thousand panels, and building records (with their
    checks) for the whole story took about a tenth of a second there. A panel
    is its position and revision; a later look reads only the panels whose
    revision passed ``clock`` (the story clock when this snapshot read every
    panel, migration 0018) and the panel count, so it costs the same at ten
    panels and at a thousand. Two snapshots differ exactly where a record the
    views read would differ.
    """

    settings: Row
    characters: tuple[Row, ...]  # the characters, then every LoRA (a character's are in it)
    scenes: Marks
    clock: int  # every change to a panel up to this value is in ``scenes``
    transitions: tuple[Row, ...]

    def refreshed(self, store: ProjectStore, parts: ProjectChanges) -> ProjectSnapshot:
        """This snapshot with the ``parts`` named read again from ``store``, the rest kept.

        Read before the views read the same parts, so a commit made elsewhere in
        between still differs from it at the next look. A scene gone meanwhile
        keeps its old row: the next look finds the story changed. Refreshing some
        panels leaves the clock as it was, so the next look still reads whatever
        else changed since.
        """
        with store.reading(), store.session() as session:
            scenes, clock, transitions = self.scenes, self.clock, self.transitions
            if parts.scenes:
                (scenes, clock), transitions = scene_marks(session), transition_rows(session)
            elif parts.scene_ids:
                scenes = {**scenes, **marks_of(session, parts.scene_ids)}
            return ProjectSnapshot(
                settings_row(session) if parts.settings else self.settings,
                character_rows(session) if parts.characters else self.characters,
                scenes,
                clock,
                transitions,
            )

    def looked_again(self, store: ProjectStore) -> ProjectSnapshot:
        """The project as stored now, reading only the panels changed since ``clock``
        (every panel when one was deleted, which the count tells)."""
        with store.reading(), store.session() as session:
            clock = _clock(session)
            scenes = {**self.scenes, **marks_since(session, self.clock)}
            if len(scenes) != _count(session):
                scenes, clock = scene_marks(session)
            return _snapshot(session, scenes, clock)

    @classmethod
    def read(cls, store: ProjectStore) -> ProjectSnapshot:
        with store.reading(), store.session() as session:
            return _snapshot(session, *scene_marks(session))


def _snapshot(session: Session, scenes: Marks, clock: int) -> ProjectSnapshot:
    """Every part read from ``session`` but the panels' marks, which the caller read."""
    return ProjectSnapshot(
        settings_row(session), character_rows(session), scenes, clock, transition_rows(session)
    )


def _rows(session: Session, sql: str, parameters: tuple[Any, ...] = ()) -> tuple[Row, ...]:
    """The rows as SQLite stores them, from the driver inside the session's transaction: no
    type processing, no records (the cheap look)."""
    driver = cast(sqlite3.Connection, session.connection().connection.dbapi_connection)
    return tuple(driver.execute(sql, parameters).fetchall())


def settings_row(session: Session) -> Row:
    return _rows(session, "SELECT * FROM project_settings ORDER BY id")


def character_rows(session: Session) -> tuple[Row, ...]:
    characters = _rows(session, "SELECT * FROM characters ORDER BY position, id")
    return characters + _rows(session, "SELECT * FROM loras ORDER BY id")


def transition_rows(session: Session) -> tuple[Row, ...]:
    return _rows(session, "SELECT * FROM transitions ORDER BY id")


def scene_marks(session: Session) -> tuple[dict[int, tuple[int, int]], int]:
    """Every panel's ``(position, revision)`` by id (the revision moves whenever its row,
    its cast or its takes change), and the story clock they were read at."""
    return _marks(session, ""), _clock(session)


def marks_of(session: Session, scene_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """The marks of ``scene_ids`` (those still in the story)."""
    wanted = tuple(sorted(set(scene_ids)))
    return _marks(session, f" WHERE id IN ({', '.join('?' * len(wanted))})", wanted)


def marks_since(session: Session, clock: int) -> dict[int, tuple[int, int]]:
    """The marks of the panels changed (or added) after the story clock read ``clock``."""
    return _marks(session, " WHERE revision > ?", (clock,))


def _marks(
    session: Session, where: str, parameters: tuple[Any, ...] = ()
) -> dict[int, tuple[int, int]]:
    sql = f"SELECT id, position, revision FROM scenes{where}"
    return {row[0]: (row[1], row[2]) for row in _rows(session, sql, parameters)}


def _clock(session: Session) -> int:
    clock = _rows(session, "SELECT value FROM story_clock WHERE id = 1")
    return int(clock[0][0]) if clock else 0


def _count(session: Session) -> int:
    return int(_rows(session, "SELECT COUNT(*) FROM scenes")[0][0])


@dataclass(frozen=True)
class ProjectChanges:
    """What differs between two snapshots, as narrowly as the views can refresh it."""

    settings: bool = False
    characters: bool = False
    scenes: bool = False  # panels added, removed or reordered, or transitions changed
    scene_ids: tuple[int, ...] = ()  # panels whose own fields (or takes) changed

    def __bool__(self) -> bool:
        return self.settings or self.characters or self.scenes or bool(self.scene_ids)


def changes_between(old: ProjectSnapshot, new: ProjectSnapshot) -> ProjectChanges:
    """The narrowest description of what changed from ``old`` to ``new``."""
    moved = dict(new.scenes.items() - old.scenes.items())
    order_changed = old.scenes.keys() != new.scenes.keys() or any(
        old.scenes[scene_id][0] != position
        for scene_id, (position, _) in moved.items()
        if scene_id in old.scenes
    )
    edited = () if order_changed else tuple(sorted(moved, key=lambda i: new.scenes[i][0]))
    return ProjectChanges(
        settings=old.settings != new.settings,
        characters=old.characters != new.characters,
        scenes=order_changed or old.transitions != new.transitions,
        scene_ids=edited,
    )
