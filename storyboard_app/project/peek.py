"""A glance at a project without opening it: its title, panel count and first picture.

The start page lists recent projects by title with a thumbnail. Opening each
with :class:`ProjectStore` would migrate an older one (and write its backup)
just to list it, so this reads the database read-only with plain SQLite and
writes nothing; a project it cannot read is simply listed by its folder name.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.media import MediaStore
from storyboard_app.project.schema import read_only_uri
from storyboard_app.project.store import DATABASE_NAME, MEDIA_DIR

MAX_TITLE_CHARS = 200
BUSY_TIMEOUT_S = 0.5
FIRST_PICTURE = (
    "SELECT takes.media FROM scenes JOIN takes ON takes.id = scenes.active_take_id"
    " ORDER BY scenes.position LIMIT 1"
)


@dataclass(frozen=True)
class ProjectPeek:
    folder: Path
    title: str
    panels: int
    thumbnail: Path | None  # the first panel's picture that exists, if any


def peek_project(folder: Path) -> ProjectPeek | None:
    """What the start page shows of ``folder``; None when it is no readable project."""
    folder = Path(folder)
    database = folder / DATABASE_NAME
    if not database.is_file():
        return None
    uri = read_only_uri(database, writable=os.access(folder, os.W_OK))
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)) as db:
            title_row = db.execute("SELECT name FROM project_settings WHERE id = 1").fetchone()
            panels = db.execute("SELECT COUNT(*) FROM scenes").fetchone()[0]
            picture = db.execute(FIRST_PICTURE).fetchone()
    except sqlite3.Error:
        return None
    title = str(title_row[0])[:MAX_TITLE_CHARS] if title_row and title_row[0] else folder.stem
    media = picture[0] if picture and isinstance(picture[0], str) else None
    return ProjectPeek(folder, title, int(panels or 0), _existing_media(folder, media))


def _existing_media(folder: Path, media: str | None) -> Path | None:
    """The media file's path inside the project, or None (no name, refused, or missing)."""
    if media is None:
        return None
    try:
        path = MediaStore(folder / MEDIA_DIR, project=folder).path(media)
    except StoryboardError:
        return None
    return path if path.is_file() else None
