"""User-facing errors of the project layer.

Every error the artist can cause carries a message that names the problem and
a hint that names the fix, so the CLI and the app can show it without a
traceback.
"""

from __future__ import annotations

from pathlib import Path


class StoryboardError(Exception):
    """Base of every error that is shown to the user as a message."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ProjectError(StoryboardError):
    """A project folder that cannot be opened or written."""


class ProjectNotFoundError(ProjectError):
    pass


class NotAProjectError(ProjectError):
    pass


class ProjectCorruptError(ProjectError):
    pass


class ProjectTooNewError(ProjectError):
    pass


class ProjectExistsError(ProjectError):
    pass


class ProjectReadOnlyError(ProjectError):
    pass


class DiskFullError(ProjectError):
    """A write that found no room left on its disk; what was there before is unchanged."""


class OutsideProjectError(ProjectError):
    """A project path that a symlink leads out of the project folder."""


class ValidationError(StoryboardError):
    """An edit that would leave the project inconsistent (empty prompt, duplicate name...)."""


class CharacterInUseError(ValidationError):
    """A character that panels still use, deleted with ``if_unused``; ``panels`` are 1-based."""

    def __init__(self, name: str, panels: list[int]) -> None:
        count = f"{len(panels)} panel{'s' if len(panels) != 1 else ''}"
        super().__init__(
            f"{name} is still used by {count}.",
            "Remove it from those panels first, or delete it and remove its tags.",
        )
        self.name = name
        self.panels = panels


class NotFoundError(StoryboardError):
    """A character, scene, take or transition that does not exist."""


class MediaError(StoryboardError):
    """A media file that is missing or is not what it claims to be."""


class ScriptError(StoryboardError):
    """A story script with a problem at a known place.

    The message reads ``FILE:LINE:COLUMN: what is wrong`` so editors can jump to it.
    """

    def __init__(
        self,
        path: Path | str | None,
        line: int | None,
        problem: str,
        hint: str = "",
        column: int | None = None,
    ) -> None:
        self.path = str(path) if path is not None else "<script>"
        self.line = line
        self.column = column
        self.problem = problem
        where = self.path
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {problem}", hint)
