"""Files Storyboard writes: paths that stay inside a project, atomic writes, full disks.

Three promises every writer (project store, media, exports, scripts) keeps by
going through this module:

* a path inside a project is resolved before use, and one that a symlink leads
  out of the project folder is refused, so nothing outside it is read, written
  or deleted (:func:`project_path`);
* a file is written to a hidden temporary sibling, flushed to the disk (fsync)
  and renamed over its target, so a crash, a cancel or a full disk leaves the
  old file or the whole new one, never a truncated mix (:func:`atomic_file`);
* a full disk is reported as such, with the free space, not as a traceback or a
  damaged database (:func:`disk_full_error`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storyboard_app.project.errors import DiskFullError, OutsideProjectError

FILE_MODE = 0o644  # mkstemp creates 0600 files; ours should be readable like any saved file
TEMP_SUFFIX = ".tmp"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
LOW_SPACE_BYTES = 1_000_000


def project_path(root: Path, *parts: str | os.PathLike[str]) -> Path:
    """``root / parts`` after checking that its real location stays inside ``root``.

    Every symlink on the way is followed (also one that does not point anywhere
    yet), so a ``media/`` or ``cache/identity`` linked to another folder is
    refused before anything is read, written or deleted there.
    """
    candidate = Path(root).joinpath(*parts)
    boundary = Path(root).resolve()
    real = candidate.resolve()
    if real != boundary and not real.is_relative_to(boundary):
        raise OutsideProjectError(
            f"{candidate} leads outside the project folder {boundary} (to {real}); "
            "Storyboard does not read, write or delete anything there.",
            "Replace the link with a real file or folder inside the project.",
        )
    return candidate


def is_disk_full(error: BaseException, place: Path | None = None) -> bool:
    """Whether ``error`` says the disk (or the user's quota) has no room left.

    SQLite reports a ``-shm`` or journal file it could not grow as a plain
    "disk I/O error"; with ``place`` such an error counts as a full disk when
    the disk holding ``place`` has less than a megabyte left, so it is not
    mistaken for a damaged database.
    """
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return True
    text = str(error).lower()
    if "no space left" in text or "disk is full" in text or "disk quota" in text:
        return True
    return place is not None and "disk i/o error" in text and free_bytes(place) < LOW_SPACE_BYTES


def free_bytes(place: Path) -> int:
    """Free space on the disk holding ``place`` (or its nearest existing parent)."""
    place = Path(place).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        return shutil.disk_usage(place).free
    except OSError:
        return 0


def disk_full_error(place: Path) -> DiskFullError:
    """The message for a write that ran out of room on the disk holding ``place``."""
    return DiskFullError(
        f"The disk holding {place} is full ({free_bytes(place) // 1_000_000} MB free); "
        "free space and try again.",
        "Nothing was half-written: what was there before is unchanged.",
    )


@contextmanager
def atomic_file(target: Path, *, place: Path | None = None) -> Iterator[Path]:
    """A temporary path to write; flushed and renamed onto ``target`` when the block succeeds.

    The temporary file is removed on any error, cancel or Ctrl-C. A full disk
    (while writing or renaming) becomes :class:`DiskFullError` naming ``place``
    (default: the target's folder).
    """
    target = Path(target)
    fd, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    os.close(fd)
    temp = Path(temp_name)
    try:
        yield temp
        fsync_file(temp)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
        fsync_directory(target.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(place or target.parent) from exc
        raise
    finally:
        temp.unlink(missing_ok=True)


def atomic_write(target: Path, data: bytes, *, place: Path | None = None) -> None:
    """Write ``data`` to ``target`` so that readers see the old file or the whole new one."""
    target = Path(target)
    made_folder = not target.parent.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target, place=place) as temp:
            temp.write_bytes(data)
    except BaseException as exc:
        if made_folder:  # leave no empty folder behind either
            with contextlib.suppress(OSError):
                target.parent.rmdir()
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full_error(place or target.parent) from exc
        raise


def atomic_write_text(target: Path, text: str, *, place: Path | None = None) -> None:
    atomic_write(target, text.encode("utf-8"), place=place)


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to the disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
