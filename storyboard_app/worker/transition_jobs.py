"""Generating a transition off the UI thread, for the timeline's "Generate transition".

The job is split along the engine's own seams so that the project store is
only ever touched on the thread that owns it: the request is read and checked
on the UI thread (a bad pair of panels fails at once, before anything runs),
only :func:`make_transition_frames` runs on the thread pool, with plain data in
and arrays out, and the frames are stored back on the UI thread. Cancel is a
flag the engine checks between frames; a cancelled job stores nothing.
"""

from __future__ import annotations

import threading
from enum import Enum

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from storyboard_app.engine.transitions.errors import TransitionCancelled
from storyboard_app.engine.transitions.job import (
    TransitionProgress,
    TransitionRequest,
    build_transition_request,
    make_transition_frames,
    record_failure,
    store_frames,
)
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.store import ProjectStore

RETRY_HINT = "Try again, or choose another kind of transition."


class TransitionJobState(Enum):
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


class FrameRelay(QObject):
    """Carries the runnable's news to the UI thread (queued, as it lives there).

    The runnable keeps it alive, so a job deleted mid-run (its project closed)
    leaves the worker emitting into a live object whose receivers are gone.
    """

    progressed = Signal(int, int)
    framesReady = Signal(object)  # list[np.ndarray]
    failed = Signal(str)
    cancelled = Signal()


class TransitionFramesRunnable(QRunnable):
    def __init__(self, request: TransitionRequest, relay: FrameRelay, stop: threading.Event):
        super().__init__()
        self.request = request
        self.relay = relay
        self.stop = stop

    def run(self) -> None:
        try:
            frames = make_transition_frames(
                self.request, on_progress=self._report, is_cancelled=self.stop.is_set
            )
        except TransitionCancelled:
            self.relay.cancelled.emit()
        except Exception as exc:  # any failure is reported to the artist, never lost
            self.relay.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.relay.framesReady.emit(frames)

    def _report(self, event: TransitionProgress) -> None:
        self.relay.progressed.emit(event.step, event.steps)


class TransitionJob(QObject):
    """One transition between two neighbouring panels, from request to stored frames."""

    progressed = Signal(int, int)  # step, steps
    finished = Signal(object)  # TransitionRecord
    failed = Signal(object)  # StoryboardError
    cancelled = Signal()

    def __init__(
        self,
        store: ProjectStore,
        from_scene_id: int,
        to_scene_id: int,
        kind: str = "morph",
        pool: QThreadPool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.state = TransitionJobState.RUNNING
        self._stop = threading.Event()
        self._pool = pool or QThreadPool.globalInstance()
        self._request = build_transition_request(store, from_scene_id, to_scene_id, kind)
        self._relay = FrameRelay()  # no parent: it outlives this job while frames are made
        self._relay.progressed.connect(self.progressed)
        self._relay.framesReady.connect(self._store)
        self._relay.failed.connect(self._fail)
        self._relay.cancelled.connect(self._cancelled)

    @property
    def label(self) -> str:
        return self._request.label

    def start(self) -> None:
        self._pool.start(TransitionFramesRunnable(self._request, self._relay, self._stop))

    def cancel(self) -> None:
        self._stop.set()

    def _store(self, frames: list[np.ndarray]) -> None:
        if self._stop.is_set():
            self._cancelled()
            return
        try:
            record = store_frames(self.store, self._request, frames)
        except StoryboardError as exc:
            self._fail_with(exc)
            return
        self.state = TransitionJobState.FINISHED
        self.finished.emit(record)

    def _fail(self, detail: str) -> None:
        """Record the transition as failed (with the error) so the timeline can show it."""
        try:
            error = record_failure(self.store, self._request, StoryboardError(detail, RETRY_HINT))
        except StoryboardError as exc:
            error = exc
        self._fail_with(error)

    def _fail_with(self, error: StoryboardError) -> None:
        self.state = TransitionJobState.FAILED
        self.failed.emit(error)

    def _cancelled(self) -> None:
        self.state = TransitionJobState.CANCELLED
        self.cancelled.emit()
