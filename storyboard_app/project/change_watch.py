"""ChangeWatch: has anyone else committed to the project database since we last looked?

SQLite's ``PRAGMA data_version`` changes, on one connection, whenever another
connection commits, in this process or any other. So the watch keeps its own
connection open for as long as it watches (a fresh connection would have
nothing to compare with) and only ever reads that pragma: one cheap call, no
table is read and nothing is written. The connection is opened through SQLite
(read-only), never with a plain ``open()`` of the file, which would drop the
process's POSIX locks on it when closed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

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
