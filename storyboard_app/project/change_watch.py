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
revision SQLite's triggers bump whenever a panel, its cast or its takes change
(migration 0017), so a look reads three numbers a panel, not its rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
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


@dataclass(frozen=True)
class ProjectSnapshot:
    """What the views show, as the stored rows: compared to tell what another program changed.

    Rows, not records: a look after every commit (the window's own included)
    must stay cheap at a thousand panels, and building records (with their
    checks) for the whole story took about a tenth of a second there. A panel
    is its id, position and revision (reading its row, cast and take count took
    about 6 ms a look at a thousand panels). Two snapshots differ exactly where a
    record the views read would differ.
    """

    settings: Row
    characters: tuple[Row, ...]  # the characters, then every LoRA (a character's are in it)
    scenes: tuple[Row, ...]  # in story order: (id, position, revision)
    transitions: tuple[Row, ...]

    def refreshed(self, store: ProjectStore, parts: ProjectChanges) -> ProjectSnapshot:
        """This snapshot with the ``parts`` named read again from ``store``, the rest kept.

        Read before the views read the same parts, so a commit made elsewhere in
        between still differs from it at the next look. A scene gone meanwhile
        keeps its old row: the next look finds the story changed.
        """
        with store.reading(), store.session() as session:
            scenes, transitions = self.scenes, self.transitions
            if parts.scenes:
                scenes, transitions = scene_marks(session), transition_rows(session)
            elif parts.scene_ids:
                fresh = {row[0]: row for row in scene_marks(session, parts.scene_ids)}
                scenes = tuple(fresh.get(row[0], row) for row in scenes)
            return ProjectSnapshot(
                settings_row(session) if parts.settings else self.settings,
                character_rows(session) if parts.characters else self.characters,
                scenes,
                transitions,
            )

    @classmethod
    def read(cls, store: ProjectStore) -> ProjectSnapshot:
        with store.reading(), store.session() as session:
            return cls(
                settings_row(session),
                character_rows(session),
                scene_marks(session),
                transition_rows(session),
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


def scene_marks(session: Session, scene_ids: Iterable[int] | None = None) -> tuple[Row, ...]:
    """Every panel in story order (or those of ``scene_ids``) as ``(id, position,
    revision)``: the revision moves whenever its row, its cast or its takes change."""
    where, wanted = "", ()
    if scene_ids is not None:
        wanted = tuple(sorted(set(scene_ids)))
        where = f" WHERE id IN ({', '.join('?' * len(wanted))})" if wanted else " WHERE 0"
    sql = f"SELECT id, position, revision FROM scenes{where} ORDER BY position, id"
    return _rows(session, sql, wanted)


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
    order_changed = [s[0] for s in old.scenes] != [s[0] for s in new.scenes]
    before = {scene[0]: scene for scene in old.scenes}
    edited = tuple(s[0] for s in new.scenes if not order_changed and before.get(s[0]) != s)
    return ProjectChanges(
        settings=old.settings != new.settings,
        characters=old.characters != new.characters,
        scenes=order_changed or old.transitions != new.transitions,
        scene_ids=edited,
    )
