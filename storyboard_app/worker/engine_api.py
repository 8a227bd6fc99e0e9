"""The contract between the engine thread and whatever renders: the real engine or a fake.

The host calls :meth:`Engine.run` on its thread, one job at a time, and the
engine reports through a :class:`Reporter`. Cancelling is cooperative: the
engine asks ``is_cancelled`` between steps and raises :class:`JobCancelled`.
Failures the artist can act on are raised as :class:`JobError` with a
classified :class:`ErrorInfo`; anything else is an internal error.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Protocol

import numpy as np

from storyboard_app.project.errors import (
    MediaError,
    NotFoundError,
    ProjectError,
    StoryboardError,
    ValidationError,
)
from storyboard_app.worker.jobs import DeviceInfo, ErrorInfo, ErrorKind, Job

CancelCheck = Callable[[], bool]


class JobCancelled(Exception):
    """The running job stopped at a step boundary because the artist cancelled it."""


class JobError(Exception):
    """A failure with a message for the artist."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(str(info))
        self.info = info


class Reporter(Protocol):
    def progress(
        self,
        stage: str,
        label: str,
        step: int,
        steps: int,
        pass_index: int,
        pass_count: int,
        scene_ids: tuple[int, ...],
    ) -> None: ...

    def wants_preview(self, key: int | str) -> bool:
        """Whether a preview of ``key`` would be shown now; asked before one is made."""
        ...

    def preview(self, key: int | str, image: np.ndarray) -> None: ...

    def panel_done(self, scene_id: int, take_id: int) -> None: ...


class Engine(Protocol):
    """Runs jobs on the engine thread; keeps its model loaded between them."""

    def run(self, job: Job, reporter: Reporter, is_cancelled: CancelCheck) -> None: ...

    def check_model(self, source: str) -> str:
        """A one-line description of the model at ``source``; raises JobError if unusable."""
        ...

    def device_info(self, device: str | None) -> DeviceInfo: ...

    def close(self) -> None:
        """Release the model (called on the engine thread when the host shuts down)."""
        ...


def classify_error(exc: BaseException) -> ErrorInfo:
    """The artist-facing form of an exception from a job.

    Engine-specific kinds (out of memory, model load) arrive already classified
    as :class:`JobError`; project-layer errors are classified here; anything
    else is a bug, shown with its type so it can be reported.
    """
    if isinstance(exc, JobError):
        return exc.info
    if isinstance(exc, StoryboardError):
        kind = ErrorKind.INTERNAL
        if isinstance(exc, MediaError):
            kind = ErrorKind.MEDIA
        elif isinstance(exc, ProjectError):
            kind = ErrorKind.PROJECT
        elif isinstance(exc, ValidationError | NotFoundError):
            kind = ErrorKind.INPUT
        return ErrorInfo(kind, exc.message, exc.hint)
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" (at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return ErrorInfo(
        ErrorKind.INTERNAL,
        f"Unexpected error: {type(exc).__name__}: {exc}{place}.",
        "The engine is ready for the next job. Please report this if it happens again.",
    )
