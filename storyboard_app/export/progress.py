"""Progress and cancel for exports: plain callbacks, so a thread or a dialog can drive them.

An export reports :class:`ExportProgress` after each unit of work (a page, a
frame, a file) and asks its cancel check just before the next one; a cancel
raises :class:`ExportCancelledError`, and the output helpers then remove
whatever was half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storyboard_app.export.errors import ExportCancelledError


@dataclass(frozen=True)
class ExportProgress:
    """``done`` of ``total`` units of ``stage`` (e.g. 120 of 2880 frames of "MP4")."""

    stage: str
    done: int
    total: int
    unit: str

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[ExportProgress], None]
CancelCheck = Callable[[], bool]


def no_progress(_progress: ExportProgress) -> None:
    """The default callback: report nothing."""


def never_cancelled() -> bool:
    """The default cancel check: never cancel."""
    return False


class Steps:
    """Counts the units of one export stage, reporting each and honouring cancel."""

    def __init__(
        self,
        stage: str,
        total: int,
        unit: str,
        on_progress: ProgressCallback = no_progress,
        is_cancelled: CancelCheck = never_cancelled,
    ) -> None:
        self.stage = stage
        self.total = total
        self.unit = unit
        self.done = 0
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled

    def check_cancel(self) -> None:
        if self._is_cancelled():
            raise ExportCancelledError(
                f"The {self.stage} export was cancelled after {self.done} of {self.total} "
                f"{self.unit}.",
                "Nothing was written; start the export again when ready.",
            )

    def advance(self, count: int = 1) -> None:
        """Record finished units, report them, then check for a cancel before the next.

        Once every unit is done the export is complete, so a late cancel no longer
        throws the finished work away.
        """
        self.done = min(self.total, self.done + count)
        self._on_progress(ExportProgress(self.stage, self.done, self.total, self.unit))
        if self.done < self.total:
            self.check_cancel()
