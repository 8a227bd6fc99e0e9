"""Project folders for the app: new, from a story script or bundled example, and Save As.

Save As duplicates the project folder. The database is copied with SQLite's
backup API, never as a raw file: in WAL mode the latest commits may still sit
in ``project.sqlite-wal``, and copying the main file alone would lose them (or
copy a torn page). Media and caches are plain files and are copied as they are;
the copy is assembled under a temporary name and renamed, so a failed copy
leaves no half project behind.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import unicodedata
from contextlib import closing
from pathlib import Path

from storyboard_app.project.bundled import examples_dir
from storyboard_app.project.errors import ProjectExistsError, ProjectReadOnlyError
from storyboard_app.project.files import disk_full_error, is_disk_full
from storyboard_app.project.schema import read_only_uri
from storyboard_app.project.scripts.io import FOUNTAIN_SUFFIXES, load_story_script
from storyboard_app.project.scripts.model import StoryScript
from storyboard_app.project.scripts.prose import load_prose_story
from storyboard_app.project.store import (
    DATABASE_NAME,
    PROJECT_SUFFIX,
    ProjectStore,
    project_folder,
)
from storyboard_app.project.story import create_project_from_script

SCRIPT_SUFFIXES = (".toml", ".txt", ".fountain")
UNTITLED = "Untitled"
MAX_NAME_CHARS = 80
# Characters no common file system allows in a name, and control characters.
UNSAFE_IN_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def folder_name_for(title: str) -> str:
    """A project folder name from a story title: ``The Lighthouse: Part 1`` ->
    ``The_Lighthouse_Part_1``. Letters of any script stay; what file systems refuse
    goes; underscores read back as spaces when the project is named from its folder."""
    text = unicodedata.normalize("NFC", title)
    text = UNSAFE_IN_NAMES.sub(" ", text)
    words = text.replace("_", " ").split()
    name = "_".join(words).strip("._-")[:MAX_NAME_CHARS].rstrip("._-")
    return name or UNTITLED


def proposed_copy(title: str, folder: Path) -> Path:
    """Where Save As proposes to copy a project titled ``title``: in ``folder``, named from
    the title, with ``_copy`` (then ``_copy_2``...) added while that folder exists."""
    base = folder_name_for(title)
    candidate = folder / f"{base}{PROJECT_SUFFIX}"
    number = 1
    while candidate.exists():
        suffix = "_copy" if number == 1 else f"_copy_{number}"
        candidate = folder / f"{base}{suffix}{PROJECT_SUFFIX}"
        number += 1
    return candidate


def project_location(path: Path) -> Path:
    """The project folder a picked path means: the folder itself, or the folder holding a
    picked ``project.sqlite`` (or its WAL files)."""
    path = Path(path)
    if path.name == DATABASE_NAME or path.name.startswith(f"{DATABASE_NAME}-"):
        return path.parent
    return path


def examples_folder() -> Path | None:
    """The bundled example stories: in the package, a checkout or a frozen app."""
    return examples_dir()


def example_scripts() -> list[Path]:
    folder = examples_folder()
    if folder is None:
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SCRIPT_SUFFIXES)


def create_from_script(script: Path, destination: Path) -> ProjectStore:
    """A new project holding a story script (an example or the artist's own)."""
    return create_project_from_script(destination, load_story_script(script))


def read_story_draft(story: Path) -> StoryScript:
    """The first draft of a story for File > New from Story…: a screenplay by its Fountain
    structure, anything else as prose cut by the rules."""
    if story.suffix.lower() in FOUNTAIN_SUFFIXES:
        return load_story_script(story)
    return load_prose_story(story)


def create_from_story(script: StoryScript, destination: Path) -> ProjectStore:
    """A new project holding an already parsed (and edited) story."""
    return create_project_from_script(destination, script)


def duplicate_project(source: Path, destination: Path) -> Path:
    """Copy the project folder ``source`` to ``destination``; returns the new folder."""
    source = project_folder(source)
    target = project_folder(destination)
    if target.exists():
        raise ProjectExistsError(f"{target} already exists.", "Choose another name for the copy.")
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(
            source, staging, ignore=shutil.ignore_patterns(f"{DATABASE_NAME}*", ".*.tmp")
        )
        backup_database(source / DATABASE_NAME, staging / DATABASE_NAME)
        staging.rename(target)
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if is_disk_full(exc, target.parent):
            raise disk_full_error(target) from exc
        raise ProjectReadOnlyError(
            f"Cannot copy the project to {target}: {getattr(exc, 'strerror', None) or exc}.",
            "Choose a folder you can write to, with enough free space.",
        ) from exc
    return target


def backup_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, committed WAL contents included."""
    with (
        closing(sqlite3.connect(read_only_uri(source), uri=True)) as reader,
        closing(sqlite3.connect(target)) as writer,
    ):
        reader.backup(writer)
