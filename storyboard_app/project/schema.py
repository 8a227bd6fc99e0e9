"""Schema versions: checking a project file before opening it, and migrating it.

The checks run on a read-only SQLite connection so that a file that turns out
to be damaged, foreign or from a newer app is never written to.
"""

from __future__ import annotations

import functools
import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from storyboard_app.project.errors import (
    NotAProjectError,
    ProjectCorruptError,
    ProjectReadOnlyError,
    ProjectTooNewError,
)
from storyboard_app.project.files import atomic_file, disk_full_error, is_disk_full

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def known_revisions() -> list[str]:
    """Revisions this app knows, oldest first."""
    return list(_script_revisions()[0])


def head_revision() -> str:
    return _script_revisions()[1]


@functools.cache
def _script_revisions() -> tuple[tuple[str, ...], str]:
    """The shipped migration scripts' revisions and head, read once per process: they
    are part of the installed package, and reading them took a tenth of a second at
    every project opened."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = tuple(rev.revision for rev in reversed(list(script.walk_revisions())))
    return revisions, script.get_current_head() or ""


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def read_only_uri(db_path: Path, writable: bool = True) -> str:
    """A URI opening ``db_path`` read-only.

    Where the folder cannot be written (a read-only copy, a locked drive) SQLite
    cannot create the ``-shm`` file even a reader needs, so the file is opened
    as immutable: nothing can change it there anyway.
    """
    return f"{db_path.absolute().as_uri()}?mode=ro" + ("" if writable else "&immutable=1")


def inspect_database(db_path: Path, writable: bool = True) -> str:
    """The schema revision of an existing project database, after checking it is sound.

    Raises a clear error for a file that is not SQLite, a damaged file, a SQLite
    file that is not a project, and a project written by a newer app.
    """
    _check_header(db_path, writable)
    try:
        with closing(sqlite3.connect(read_only_uri(db_path, writable), uri=True)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise _corrupt(db_path, "; ".join(problems[:3]))
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" not in tables:
                raise NotAProjectError(
                    f"{db_path} is a SQLite database but not a storyboard project.",
                    "Open a folder created by 'storyboard new' or the app.",
                )
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        if is_disk_full(exc, db_path.parent):
            raise disk_full_error(db_path.parent) from exc
        if "unable to open" in str(exc):
            raise ProjectReadOnlyError(
                f"Cannot open {db_path} ({exc}).",
                "Check that the project folder is readable and writable, or copy it somewhere "
                "writable.",
            ) from exc
        raise _corrupt(db_path, str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        raise _corrupt(db_path, str(exc)) from exc
    revision = row[0] if row else ""
    if revision not in known_revisions():
        raise ProjectTooNewError(
            f"{db_path.parent} was saved by a newer version of Storyboard "
            f"(schema {revision!r}; this version knows up to {head_revision()!r}).",
            "Update Storyboard to open it; the project was left untouched.",
        )
    return revision


def backup_before_migration(db_path: Path, revision: str) -> Path:
    """Copy the database aside before migrating, so an upgrade can never lose work."""
    backup = db_path.with_name(f"{db_path.name}.before-{head_revision()}-from-{revision}.bak")
    try:
        with (
            atomic_file(backup, place=db_path.parent) as temp,
            closing(sqlite3.connect(read_only_uri(db_path), uri=True)) as source,
            closing(sqlite3.connect(temp)) as target,
        ):
            source.backup(target)
    except sqlite3.Error as exc:
        if is_disk_full(exc, db_path.parent):
            raise disk_full_error(db_path.parent) from exc
        raise _corrupt(db_path, str(exc)) from exc
    return backup


def _check_header(db_path: Path, writable: bool = True) -> None:
    """Refuse a file that is not SQLite, asking SQLite itself.

    The file is never opened by any other means: this process may already hold a
    SQLite connection to it, and closing any other descriptor of the file would
    drop every POSIX lock the process holds on it, so another process would
    think itself alone and delete the WAL under the first.
    """
    try:
        with closing(sqlite3.connect(read_only_uri(db_path, writable), uri=True)) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        if is_disk_full(exc, db_path.parent):
            raise disk_full_error(db_path.parent) from exc
        if "unable to open" in str(exc):
            raise ProjectCorruptError(
                f"Cannot read {db_path}: {exc}.", "Check the file's permissions."
            ) from exc
        raise _corrupt(db_path, str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise _corrupt(db_path, "it is not a SQLite database") from exc
        raise _corrupt(db_path, str(exc)) from exc
    if db_path.stat().st_size == 0:
        raise _corrupt(db_path, "it is not a SQLite database")


def _corrupt(db_path: Path, detail: str) -> ProjectCorruptError:
    return ProjectCorruptError(
        f"The project database {db_path} is damaged ({detail}).",
        "Restore project.sqlite from a backup (a copy ending in .bak may be in the same "
        "folder); nothing was changed.",
    )
