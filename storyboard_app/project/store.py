"""The project store: a ``NAME.storyboard/`` folder with ``project.sqlite`` and ``media/``.

Every edit is its own short transaction, committed at once: there is no Save,
and a crash loses at most the edit in flight. Opening checks the file on a
read-only connection first, so a damaged, foreign or newer project is reported
and never touched.
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, func, select
from sqlalchemy.exc import DatabaseError as SqlDatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from storyboard_app.project import schema
from storyboard_app.project.characters import CharacterRepository
from storyboard_app.project.damage import DAMAGE_LOG_KEY, DamageLog
from storyboard_app.project.errors import (
    DiskFullError,
    NotAProjectError,
    ProjectCorruptError,
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
    ValidationError,
)
from storyboard_app.project.files import (
    disk_full_error,
    fsync_directory,
    is_disk_full,
    project_path,
)
from storyboard_app.project.loras import LoraRepository
from storyboard_app.project.media import LEFTOVER_AGE_S, MediaStore
from storyboard_app.project.models import ProjectSettingsRow, Scene, Take
from storyboard_app.project.records import ProjectInfo
from storyboard_app.project.scenes import SceneRepository
from storyboard_app.project.settings import ConsistencySettings, ProjectSettings
from storyboard_app.project.takes import TakeRepository
from storyboard_app.project.timeline import build_timeline
from storyboard_app.project.transitions import TransitionRepository

PROJECT_SUFFIX = ".storyboard"
DATABASE_NAME = "project.sqlite"
MEDIA_DIR = "media"
BUSY_TIMEOUT_MS = 10000
_IMMEDIATE = "storyboard_begin_immediate"
PARTIAL = ".partial"  # suffix of a project folder still being created


def project_folder(path: Path | str) -> Path:
    """The folder a user meant: ``my`` and ``my.storyboard`` both mean ``my.storyboard``."""
    path = Path(path).expanduser().absolute()
    if path.name == DATABASE_NAME:
        path = path.parent
    return path if path.suffix == PROJECT_SUFFIX else path.with_name(path.name + PROJECT_SUFFIX)


class ProjectStore:
    """An open project. Use :meth:`create` or :meth:`open`, and close it (or use ``with``)."""

    def __init__(self, folder: Path, engine: Engine) -> None:
        self.folder = folder
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.media = MediaStore(folder / MEDIA_DIR, project=folder)
        self.characters = CharacterRepository(self)
        self.loras = LoraRepository(self)
        self.scenes = SceneRepository(self)
        self.takes = TakeRepository(self)
        self.transitions = TransitionRepository(self)
        self._depth = threading.local()
        self._reading = threading.local()
        self.read_only = False
        # Set by the app: damaged stored values are noted here and read as defaults.
        self.damage: DamageLog | None = None

    @classmethod
    def create(
        cls,
        path: Path | str,
        name: str | None = None,
        settings: ProjectSettings | None = None,
        fill: Callable[[ProjectStore], None] | None = None,
    ) -> ProjectStore:
        """Create a new project folder (filled by ``fill``, e.g. a script import) and open it.

        The project is built in a hidden sibling folder and renamed into place
        only when complete, so a failure, a full disk or a kill never leaves a
        half-made project that blocks the next try; leftovers of killed tries
        are removed once they are old.
        """
        folder = project_folder(path)
        remove_stale_partial_projects(folder)
        check_new_project_folder(folder)
        try:
            partial = Path(
                tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=PARTIAL)
            )
        except OSError as exc:
            raise creation_error(folder, exc) from exc
        try:
            cls._build(partial, name or _default_name(folder), settings, fill)
            os.replace(partial, folder)
            fsync_directory(folder.parent)
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if isinstance(exc, OSError):
                raise creation_error(folder, exc) from exc
            if isinstance(exc, DiskFullError):
                raise disk_full_error(folder) from exc  # named by the folder asked for
            raise
        return cls(folder, _make_engine(folder / DATABASE_NAME))

    @classmethod
    def _build(
        cls,
        folder: Path,
        name: str,
        settings: ProjectSettings | None,
        fill: Callable[[ProjectStore], None] | None,
    ) -> None:
        (folder / MEDIA_DIR).mkdir()
        with cls(folder, _make_engine(folder / DATABASE_NAME)) as store:
            with store.session() as session:
                schema.upgrade(session.connection())
                session.add(ProjectSettingsRow(id=1, name=name))
            store.update_settings(settings or ProjectSettings())
            if fill is not None:
                fill(store)

    @classmethod
    def open(cls, path: Path | str) -> ProjectStore:
        """Open a project, migrating an older schema after backing the file up."""
        folder = project_folder(path)
        database = project_path(folder, DATABASE_NAME)
        if not folder.exists():
            raise ProjectNotFoundError(
                f"No project at {folder}.", "Check the path, or create one with 'storyboard new'."
            )
        if not database.is_file():
            raise NotAProjectError(
                f"{folder} is not a storyboard project (it has no {DATABASE_NAME}).",
                "Open a folder created by 'storyboard new' or the app.",
            )
        writable = is_writable(folder, database)
        revision = schema.inspect_database(database, writable)
        if revision != schema.head_revision():
            if not writable:
                raise ProjectReadOnlyError(
                    f"{folder} was saved by an older Storyboard and must be upgraded, "
                    "which needs write access, but the folder is read-only.",
                    "Copy the project somewhere writable and open the copy.",
                )
            schema.backup_before_migration(database, revision)
        if not writable:
            return cls._open_read_only(folder, database)
        store = cls(folder, _make_engine(database))
        try:
            if revision != schema.head_revision():
                with store._engine.begin() as connection:
                    schema.upgrade(connection)
            store._check_settings_row()
        except BaseException:
            store.close()
            raise
        (folder / MEDIA_DIR).mkdir(exist_ok=True)
        store.media.remove_leftover_temp_files()
        return store

    @classmethod
    def _open_read_only(cls, folder: Path, database: Path) -> ProjectStore:
        """A project in a folder this process cannot write: everything reads, edits refuse."""
        store = cls(folder, _make_engine(database, read_only=True))
        store.read_only = True
        try:
            store._check_settings_row()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short transaction: committed when the block ends, rolled back on any error."""
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        try:
            with self._sessions.begin() as session:
                if self.damage is not None:
                    session.info[DAMAGE_LOG_KEY] = self.damage
                if depth == 0 and not getattr(self._reading, "value", False):
                    # The outermost session takes the write lock at once (BEGIN
                    # IMMEDIATE), so what it reads (positions, counts) cannot change
                    # under it and a busy database is waited for, not failed.
                    # Nested sessions stay deferred readers: they must not wait on
                    # the lock their own thread holds.
                    session.connection(execution_options={_IMMEDIATE: True})
                yield session
        except OperationalError as exc:
            raise _translate_operational_error(self.folder, exc) from exc
        except SqlDatabaseError as exc:
            if is_disk_full(exc, self.folder):
                raise disk_full_error(self.folder) from exc
            raise ProjectCorruptError(
                f"The project database in {self.folder} is damaged ({exc.orig}).",
                "Restore project.sqlite from a backup.",
            ) from exc
        finally:
            self._depth.value = depth

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Sessions opened inside only read: they begin deferred, so they never wait for
        another connection's write (the engine thread storing a take).

        A WAL reader sees one consistent snapshot from its first read, so nothing it
        reads changes under it. For the window's refreshes after a change; never
        write inside (a deferred reader that writes can be refused).
        """
        before = getattr(self._reading, "value", False)
        self._reading.value = True
        try:
            yield
        finally:
            self._reading.value = before

    @property
    def name(self) -> str:
        with self.session() as session:
            return session.get_one(ProjectSettingsRow, 1).name

    def rename(self, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValidationError("The project name is empty.", "Give the project a name.")
        with self.session() as session:
            session.get_one(ProjectSettingsRow, 1).name = name

    def settings(self) -> ProjectSettings:
        with self.session() as session:
            return settings_from_row(session.get_one(ProjectSettingsRow, 1))

    def update_settings(
        self, settings: ProjectSettings | None = None, **changes: Any
    ) -> ProjectSettings:
        """Replace the settings, or change some of them (consistency fields may be flat)."""
        new = (settings or self.settings()).with_changes(**changes)
        with self.session() as session:
            settings_to_row(new, session.get_one(ProjectSettingsRow, 1))
        return new

    def schema_revision(self) -> str:
        with self._engine.connect() as connection:
            return connection.exec_driver_sql(
                "SELECT version_num FROM alembic_version"
            ).scalar_one()

    def info(self) -> ProjectInfo:
        """The project's summary; its running time is the timeline's, to the frame."""
        timeline = build_timeline(self)
        transitions = self.transitions.list()
        with self.session() as session:
            row = session.get_one(ProjectSettingsRow, 1)
            scenes = session.scalars(select(Scene)).all()
            return ProjectInfo(
                name=row.name,
                path=self.folder,
                schema_revision=self.schema_revision(),
                settings=settings_from_row(row),
                character_count=len(self.characters.list()),
                scene_count=len(scenes),
                rendered_scene_count=sum(1 for s in scenes if s.active_take_id is not None),
                take_count=session.scalar(select(func.count()).select_from(Take)) or 0,
                transition_count=len(transitions),
                stale_transition_count=sum(1 for t in transitions if t.status == "stale"),
                total_duration=timeline.duration,
                total_frames=timeline.total_frames,
            )

    def integrity_check(self) -> list[str]:
        """SQLite's full integrity check: ``["ok"]`` for a sound database."""
        with self._engine.connect() as connection:
            return [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]

    def _check_settings_row(self) -> None:
        with self.session() as session:
            # Only whether the row is there: its values are checked where they are read.
            found = session.scalar(select(ProjectSettingsRow.id).where(ProjectSettingsRow.id == 1))
            if found is None:
                raise NotAProjectError(
                    f"{self.folder} has a database but no project settings.",
                    "Restore project.sqlite from a backup.",
                )


def is_writable(folder: Path, database: Path) -> bool:
    """Whether this process may write the project (False on a read-only drive or copy)."""
    return os.access(folder, os.W_OK | os.X_OK) and os.access(database, os.W_OK)


def _make_engine(database: Path, read_only: bool = False) -> Engine:
    if read_only:
        uri = schema.read_only_uri(database, writable=False)
        engine = create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=NullPool,
        )
    else:
        # URL.create takes the path as it is: in a "sqlite:///…" string a "?" or "#"
        # in a folder name would end the path, and the database would go elsewhere.
        engine = create_engine(
            URL.create("sqlite", database=str(database)),
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # SQLAlchemy emits BEGIN itself (below), not the driver, so write
        # transactions can be BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _translate_operational_error(folder: Path, exc: OperationalError) -> ProjectError:
    detail = str(exc.orig)
    if is_disk_full(exc, folder):
        return disk_full_error(folder)
    if "readonly" in detail or "unable to open" in detail:
        return ProjectReadOnlyError(
            f"Cannot write to the project in {folder} ({detail}).",
            "Check that the folder is writable (not read-only or on a locked drive), "
            "or use Save As to copy it somewhere writable.",
        )
    if "locked" in detail or "busy" in detail:
        return ProjectError(
            f"The project in {folder} is locked by another program ({detail}).",
            "Close the other Storyboard window or program using it and try again.",
        )
    return ProjectError(
        f"Database error in {folder}: {detail}.", "Try again; report it if it persists."
    )


def check_new_project_folder(folder: Path) -> None:
    """Refuse a folder that exists (an empty one is fine) or whose parent is missing."""
    if folder.is_dir() and not any(folder.iterdir()):
        return
    if folder.exists() or folder.is_symlink():
        raise ProjectExistsError(
            f"{folder} already exists.",
            "Choose another name, or open the existing project instead.",
        )
    if not folder.parent.is_dir():
        raise ProjectNotFoundError(
            f"Cannot create {folder}: the folder {folder.parent} does not exist.",
            "Create the parent folder first or choose another location.",
        )


def remove_stale_partial_projects(folder: Path) -> None:
    """Delete the hidden half-built folders that killed creations of ``folder`` left."""
    cutoff = time.time() - LEFTOVER_AGE_S
    for partial in folder.parent.glob(f".{glob.escape(folder.name)}.*{PARTIAL}"):
        try:
            if partial.is_dir() and not partial.is_symlink() and partial.stat().st_mtime < cutoff:
                shutil.rmtree(partial)
        except OSError:
            continue  # another process's, or gone already


def creation_error(folder: Path, exc: OSError) -> ProjectError:
    if is_disk_full(exc, folder.parent):
        return disk_full_error(folder)
    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
        return ProjectExistsError(
            f"{folder} already exists.",
            "Choose another name, or open the existing project instead.",
        )
    return ProjectReadOnlyError(
        f"Cannot create {folder}: {exc.strerror or exc}.", "Choose a folder you can write to."
    )


def _default_name(folder: Path) -> str:
    return folder.name.removesuffix(PROJECT_SUFFIX).replace("_", " ").strip() or "Untitled"


def settings_from_row(row: ProjectSettingsRow) -> ProjectSettings:
    return ProjectSettings(
        model_source=row.model_source,
        width=row.width,
        height=row.height,
        steps=row.steps,
        guidance=row.guidance,
        scheduler=row.scheduler,
        style_preset=row.style_preset,
        base_seed=row.base_seed,
        frame_rate=row.frame_rate,
        aspect_ratio=row.aspect_ratio,
        identity_cache_precision=row.identity_cache_precision,
        identity_cache_budget_gb=row.identity_cache_budget_gb,
        freeu=row.freeu,
        style=row.style,
        shot_in_prompt=row.shot_in_prompt,
        consistency=ConsistencySettings(
            sampling_rate=row.sampling_rate,
            sampling_rate_high_res=row.sampling_rate_high_res,
            window_size=row.window_size,
            identity_images=row.identity_images,
            blocks=tuple(b for b in row.consistency_blocks.split(",") if b),
            share_between_panels=row.share_between_panels,
        ),
    )


def settings_to_row(settings: ProjectSettings, row: ProjectSettingsRow) -> None:
    row.model_source = settings.model_source
    row.width = settings.width
    row.height = settings.height
    row.steps = settings.steps
    row.guidance = settings.guidance
    row.scheduler = settings.scheduler
    row.style_preset = settings.style_preset
    row.base_seed = settings.base_seed
    row.frame_rate = settings.frame_rate
    row.aspect_ratio = settings.aspect_ratio
    row.identity_cache_precision = settings.identity_cache_precision
    row.identity_cache_budget_gb = settings.identity_cache_budget_gb
    row.freeu = settings.freeu
    row.style = settings.style
    row.shot_in_prompt = settings.shot_in_prompt
    row.sampling_rate = settings.consistency.sampling_rate
    row.sampling_rate_high_res = settings.consistency.sampling_rate_high_res
    row.window_size = settings.consistency.window_size
    row.identity_images = settings.consistency.identity_images
    row.consistency_blocks = ",".join(settings.consistency.blocks)
    row.share_between_panels = settings.consistency.share_between_panels
