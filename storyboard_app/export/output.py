"""Writing exports so that the output path holds the old file or the whole new one.

Every export writes to a hidden temporary sibling of its target, flushes it to
the disk and renames it into place only when complete
(:func:`storyboard_app.project.files.atomic_file`); an error, a cancel or
Ctrl-C removes the temporary instead, and a full disk is reported as such.
The target is checked before any work starts, so a missing or read-only
folder is reported at once, not after minutes of encoding.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storyboard_app.export.errors import OutputPathError
from storyboard_app.project import files


def check_output_file(path: Path | str, suffixes: tuple[str, ...]) -> Path:
    """``path`` as an absolute file path whose folder exists and is writable."""
    target = Path(path).expanduser().absolute()
    if target.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"{target.name} does not end in {' or '.join(suffixes)}.",
            f"Name the output file with the {suffixes[0]} extension, e.g. story{suffixes[0]}.",
        )
    if target.is_dir():
        raise OutputPathError(
            f"{target} is a folder.", f"Give a file name ending in {suffixes[0]}."
        )
    check_writable_folder(target.parent, target)
    return target


def check_output_folder(path: Path | str) -> Path:
    """``path`` as an absolute folder that is new or empty, inside a writable folder."""
    target = Path(path).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{target} is a file, not a folder.", "Give a folder name.")
    if target.is_dir() and any(target.iterdir()):
        raise OutputPathError(
            f"The folder {target} is not empty.",
            "Choose a new or empty folder, so no existing files are overwritten.",
        )
    check_writable_folder(target.parent, target)
    return target


def check_writable_folder(folder: Path, target: Path) -> None:
    if not folder.is_dir():
        raise OutputPathError(
            f"Cannot write {target}: the folder {folder} does not exist.",
            "Create the folder first or choose another location.",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"Cannot write {target}: the folder {folder} is not writable.",
            "Choose a folder you can write to.",
        )


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path to write; flushed and renamed onto ``target`` when the block succeeds."""
    try:
        with files.atomic_file(target) as temp:
            yield temp
    except OSError as exc:
        if files.is_disk_full(exc):
            raise files.disk_full_error(target.parent) from exc
        raise write_error(target, exc) from exc


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A temporary folder to fill; it replaces ``target`` (new, empty or ours) on success."""
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        yield temp
        os.chmod(temp, 0o755)
        for written in temp.rglob("*"):
            if written.is_file():
                files.fsync_file(written)
        replace_folder(temp, target)
        files.fsync_directory(target.parent)
    except OSError as exc:
        if files.is_disk_full(exc):
            raise files.disk_full_error(target.parent) from exc
        raise write_error(target, exc) from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def replace_folder(source: Path, target: Path) -> None:
    """Move ``source`` onto ``target``; an existing ``target`` is moved aside and removed."""
    if not target.exists():
        os.replace(source, target)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(target, old)
    os.replace(source, target)
    shutil.rmtree(old, ignore_errors=True)


def write_error(target: Path, exc: OSError) -> OutputPathError:
    reason = exc.strerror or str(exc)
    return OutputPathError(
        f"Cannot write {target}: {reason}.",
        "Check that the disk has space and the folder is writable, then export again.",
    )
