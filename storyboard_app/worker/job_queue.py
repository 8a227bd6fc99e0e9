"""A thread-safe job queue that also knows the running job, so cancel never races a start.

The UI thread submits, removes and cancels; the engine thread takes the next
job and marks it done. One lock guards both the waiting jobs and the running
one: a job is always exactly one of queued, running or gone, so "cancel" either
removes a queued job or flags the running one, never neither.
"""

from __future__ import annotations

import enum
import threading
from collections import deque

from storyboard_app.worker.jobs import Job


class CancelResult(enum.Enum):
    REMOVED = "removed"
    SIGNALLED = "signalled"
    UNKNOWN = "unknown"


class JobQueue:
    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._condition = threading.Condition()
        self._running: Job | None = None
        self._cancel = threading.Event()
        self._closed = False

    def put(self, job: Job) -> None:
        with self._condition:
            if self._closed:
                raise RuntimeError("The engine has shut down.")
            self._jobs.append(job)
            self._condition.notify()

    def take(self) -> Job | None:
        """Block until a job is waiting and mark it running; None once the queue is closed."""
        with self._condition:
            while not self._jobs and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            self._running = self._jobs.popleft()
            self._cancel.clear()
            return self._running

    def done(self) -> None:
        with self._condition:
            self._running = None
            self._cancel.clear()

    def is_cancelled(self) -> bool:
        """Checked by the engine between steps; cheap and lock-free."""
        return self._cancel.is_set()

    def cancel(self, job_id: int) -> CancelResult:
        with self._condition:
            for job in self._jobs:
                if job.id == job_id:
                    self._jobs.remove(job)
                    return CancelResult.REMOVED
            if self._running is not None and self._running.id == job_id:
                self._cancel.set()
                return CancelResult.SIGNALLED
            return CancelResult.UNKNOWN

    def close(self) -> list[Job]:
        """Stop serving: the running job is cancelled, waiting ones are returned unstarted."""
        with self._condition:
            self._closed = True
            self._cancel.set()
            left = list(self._jobs)
            self._jobs.clear()
            self._condition.notify_all()
            return left

    def waiting(self) -> tuple[Job, ...]:
        with self._condition:
            return tuple(self._jobs)

    def running(self) -> Job | None:
        with self._condition:
            return self._running
