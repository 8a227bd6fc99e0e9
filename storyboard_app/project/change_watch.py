"""ChangeWatch: has anyone else committed to the project database since we last looked?

SQLite's ``PRAGMA data_version`` changes, on one connection, whenever another
connection commits, in this process or any other. So the watch keeps its own
connection open for as long as it watches (a fresh connection would have
nothing to compare with) and only ever reads that pragma: one cheap call, no
table is read and nothing is written. The connection is opened through SQLite
(read-only), never with a plain ``open()`` of the file, which would drop the
process's POSIX locks on it when closed.

When the version changed, a :class:`ProjectSnapshot` of the records the views
show, compared with the previous one (:func:`changes_between`), tells what
changed, so only that is read again.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard_app.project.records import CharacterRecord, SceneRecord, TransitionRecord
from storyboard_app.project.settings import ProjectSettings

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


@dataclass(frozen=True)
class ProjectSnapshot:
    """What the views show, as plain records: compared to tell what another program changed."""

    settings: ProjectSettings
    characters: tuple[CharacterRecord, ...]
    scenes: tuple[SceneRecord, ...]
    transitions: tuple[TransitionRecord, ...]

    def refreshed(self, store: ProjectStore, parts: ProjectChanges) -> ProjectSnapshot:
        """This snapshot with the ``parts`` named read again from ``store``, the rest kept.

        Read before the views read the same parts, so a commit made elsewhere in
        between still differs from it at the next look.
        """
        scenes, transitions = self.scenes, self.transitions
        if parts.scenes:
            scenes, transitions = tuple(store.scenes.list()), tuple(store.transitions.list())
        elif parts.scene_ids:
            fresh = {scene_id: store.scenes.get(scene_id) for scene_id in parts.scene_ids}
            scenes = tuple(fresh.get(scene.id, scene) for scene in scenes)
        return ProjectSnapshot(
            store.settings() if parts.settings else self.settings,
            tuple(store.characters.list()) if parts.characters else self.characters,
            scenes,
            transitions,
        )

    @classmethod
    def read(cls, store: ProjectStore) -> ProjectSnapshot:
        return cls(
            store.settings(),
            tuple(store.characters.list()),
            tuple(store.scenes.list()),
            tuple(store.transitions.list()),
        )


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
    order_changed = [s.id for s in old.scenes] != [s.id for s in new.scenes]
    before = {scene.id: scene for scene in old.scenes}
    edited = tuple(s.id for s in new.scenes if not order_changed and before.get(s.id) != s)
    return ProjectChanges(
        settings=old.settings != new.settings,
        characters=old.characters != new.characters,
        scenes=order_changed or old.transitions != new.transitions,
        scene_ids=edited,
    )
