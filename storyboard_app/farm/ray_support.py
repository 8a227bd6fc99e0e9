"""Whether Ray, the optional extra farm rendering runs on, is installed."""

from __future__ import annotations

import importlib
from types import ModuleType

from storyboard_app.project.errors import StoryboardError

# The distribution is storyboard_app: 'storyboard' on PyPI is an unrelated video tool.
INSTALL_HINT = "pip install 'storyboard_app[farm]'"


class FarmNeedsRay(StoryboardError):
    """Ray is not installed: farm rendering is an optional extra."""

    def __init__(self) -> None:
        super().__init__(
            f"Farm rendering needs Ray: {INSTALL_HINT}",
            "Or render one project at a time with 'storyboard render PROJECT'.",
        )


def require_ray() -> ModuleType:
    """The ``ray`` module, or :class:`FarmNeedsRay` when it is not installed."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise FarmNeedsRay() from exc
