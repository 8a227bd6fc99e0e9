"""Where the files shipped with the app are: fonts, pipeline configs, example stories.

The repository keeps them in the top-level folders ``resources/`` and
``projects_example/``; the wheel build (``setup.py``) copies them into the
package as ``storyboard_app/_data/<folder>``, and the PyInstaller spec puts
them in the same place inside the frozen bundle. This is the one place that
knows those layouts, so every layer (project/ is the lowest) can use it.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

RESOURCES = "resources"
EXAMPLES = "projects_example"


def candidates(name: str) -> list[Path]:
    """Where the shipped folder ``name`` may be, the first to use first."""
    found: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        found += [Path(bundle) / "storyboard_app" / "_data" / name, Path(bundle) / name]
    # An installed wheel: inside the package.
    found.append(Path(str(files("storyboard_app") / "_data" / name)))
    # A checkout or an editable install: the folder at the repository root.
    found.append(Path(__file__).resolve().parents[2] / name)
    return found


def shipped_dir(name: str) -> Path:
    """The first existing candidate; else the installed location (named in errors)."""
    options = candidates(name)
    return next((folder for folder in options if folder.is_dir()), options[-2])


def resources_dir() -> Path:
    """``resources/``: the bundled fonts and the diffusers pipeline configs."""
    return shipped_dir(RESOURCES)


def examples_dir() -> Path | None:
    """``projects_example/``: the example story scripts, or None when none are installed."""
    folder = shipped_dir(EXAMPLES)
    return folder if folder.is_dir() else None
