"""Errors an export can report to the user.

Each names what went wrong and how to fix it, like every :class:`StoryboardError`,
so the CLI prints it as one message and the app's Export dialog can show it as is.
"""

from __future__ import annotations

from storyboard_app.project.errors import StoryboardError


class ExportError(StoryboardError):
    """An export that cannot be written."""


class ExportOptionsError(ExportError):
    """An option that makes no sense (a page smaller than its margins, an odd video width)."""


class OutputPathError(ExportError):
    """An output location that is missing, not writable or of the wrong kind."""


class NothingToExportError(ExportError):
    """A project with no panels: there is nothing to put in the file."""


class ExportCancelledError(ExportError):
    """The user cancelled; nothing was left behind at the output path."""
