"""Jobs for the engine thread and the plain messages it answers with.

Everything here is frozen plain data (ints, strings, paths, numpy arrays), so
it crosses from the engine thread to the UI thread as it is, and a job carries
everything needed to run it: the engine opens the project itself on its own
thread instead of sharing the UI's database connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class JobKind(enum.StrEnum):
    RENDER = "render"
    REROLL = "reroll"
    IDENTITY = "identity"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ErrorKind(enum.StrEnum):
    """What went wrong, so the window can word the message and offer the right fix."""

    OUT_OF_MEMORY = "out_of_memory"
    MODEL = "model"
    DEVICE = "device"
    MEDIA = "media"
    PROJECT = "project"
    INPUT = "input"
    INTERNAL = "internal"


@dataclass(frozen=True)
class ErrorInfo:
    kind: ErrorKind
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


@dataclass(frozen=True)
class EngineOptions:
    """Machine settings for a render (they belong to this computer, not to the project)."""

    device: str | None = None
    dtype: str | None = None
    low_vram: str | None = None


@dataclass(frozen=True)
class JobRequest:
    """What to run. ``scene_ids`` None means every panel of the project.

    ``keep_picked``: a take the artist chose by hand stays the panel's picture
    (the new take is added beside it), as Re-render All does unless told otherwise.
    """

    kind: JobKind
    project: Path
    scene_ids: tuple[int, ...] | None = None
    options: EngineOptions = field(default_factory=EngineOptions)
    keep_picked: bool = False


@dataclass(frozen=True)
class Job:
    id: int
    request: JobRequest

    @property
    def kind(self) -> JobKind:
        return self.request.kind

    @property
    def scene_ids(self) -> tuple[int, ...] | None:
        return self.request.scene_ids

    def describe(self) -> str:
        """How the job reads in the queue: "Render 3 panels", "Reroll 1 panel"."""
        if self.kind is JobKind.IDENTITY:
            return "Build character identities"
        verb = "Reroll" if self.kind is JobKind.REROLL else "Render"
        if self.scene_ids is None:
            return f"{verb} all panels"
        count = len(self.scene_ids)
        return f"{verb} {count} panel{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class StepProgress:
    """One denoising step of a job: which pass, which panels (or character) it renders."""

    job_id: int
    stage: str
    label: str
    step: int
    steps: int
    pass_index: int
    pass_count: int
    scene_ids: tuple[int, ...] = ()

    @property
    def fraction(self) -> float:
        """Progress of the whole job from 0 to 1, counting each pass equally."""
        if self.pass_count <= 0 or self.steps <= 0:
            return 0.0
        done = (self.pass_index - 1) + self.step / self.steps
        return max(0.0, min(1.0, done / self.pass_count))


@dataclass(frozen=True)
class Preview:
    """A live picture of a panel (scene id) or a character (name) during denoising."""

    job_id: int
    key: int | str
    image: np.ndarray


@dataclass(frozen=True)
class PanelDone:
    job_id: int
    scene_id: int
    take_id: int


@dataclass(frozen=True)
class JobOutcome:
    job_id: int
    status: JobStatus
    take_ids: tuple[int, ...] = ()
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class ModelCheck:
    """Whether a model source can be loaded here, and what it is."""

    source: str
    ok: bool
    summary: str = ""
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """The device renders would use, its memory, and the low-VRAM preset that fits it."""

    device: str
    gpu_memory_gb: float | None
    suggested_preset: str | None
