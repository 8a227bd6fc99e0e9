"""Copies the top-level ``resources/`` and ``projects_example/`` into the wheel.

They stay at the repository root (the project's layout); in the built package
they are ``storyboard_app/_data/resources`` and ``storyboard_app/_data/projects_example``,
found through :mod:`storyboard_app.project.bundled`. Editable installs skip the
copy: the lookup falls back to the repository root folders.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("resources", "projects_example")


class BuildWithShippedData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED:
            target = Path(self.build_lib) / "storyboard_app" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithShippedData})
