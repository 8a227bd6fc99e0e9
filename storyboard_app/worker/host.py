"""EngineHost: one long-lived QThread that owns the engine, a job queue, and typed signals.

The engine (and with it torch and the loaded model) lives on the engine thread
for the life of the app, so the model is loaded once and stays warm between
jobs. The UI thread only submits plain :class:`JobRequest` s and hears back
through signals carrying plain data; Qt queues every signal emitted on the
engine thread to the UI thread, where slots run. UI code that prefers
``await`` uses :meth:`EngineHost.run` (qasync makes Qt's loop the asyncio loop).

Short checks that must not wait behind a long render (is this model source
usable? how much GPU memory is there?) run on a small thread pool instead.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import itertools
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import (
    QAbstractEventDispatcher,
    QCoreApplication,
    QDeadlineTimer,
    QObject,
    Qt,
    QThread,
    QThreadPool,
    QTimer,
    Signal,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.worker.engine_api import Engine, JobCancelled, JobError, classify_error
from storyboard_app.worker.job_queue import CancelResult, JobQueue
from storyboard_app.worker.jobs import (
    DeviceInfo,
    ErrorInfo,
    Job,
    JobOutcome,
    JobRequest,
    JobStatus,
    ModelCheck,
    PanelDone,
    Preview,
    StepProgress,
)
from storyboard_app.worker.warm_up import ForegroundGate, import_in_turn

logger = logging.getLogger(__name__)

EngineFactory = Callable[[], Engine]
TORCH_ENGINE = "storyboard_app.worker.torch_engine:TorchEngine"
PREVIEW_INTERVAL_S = 0.1
KEPT_OUTCOMES = 256
ENGINE_NICENESS = 10
T = TypeVar("T")
# What the torch engine imports, biggest first, in pieces the window can come between.
TORCH_WARM_UP = (
    "torch",
    "torch._dynamo",
    "transformers",
    "peft",
    "diffusers",
    TORCH_ENGINE.partition(":")[0],
)


def engine_by_name(path: str = TORCH_ENGINE) -> EngineFactory:
    """A factory that imports the engine class named ``module:Class`` when it is called.

    The host calls it on the engine thread, so torch is imported there and the
    window opens without waiting for it; and since the UI only ever holds this
    name, nothing the UI imports pulls torch in.
    """
    module_name, _, class_name = path.partition(":")

    def create() -> Engine:
        first_import = module_name not in sys.modules
        module = importlib.import_module(module_name)
        if first_import:  # torch came with it: freeze before the engine is even made
            freeze_imported_objects()
        return getattr(module, class_name)()

    return create


def freeze_imported_objects() -> None:
    """Leave what is alive once the engine is made (torch and all it imported, some
    350,000 objects) out of every later garbage collection.

    A full collection walks every tracked object: with torch imported one took about
    270 ms, holding the GIL, so the window froze whenever one fell (opening a
    1,000-panel project set one off). Those objects live as long as the process, so
    the collector loses nothing by skipping them (``gc.freeze``); later objects, the
    loaded models' included, are collected as before.
    """
    gc.freeze()


class EngineHost(QObject):
    """Serves jobs one at a time on the engine thread; cancel, remove, await and shut down."""

    jobQueued = Signal(object)  # Job
    jobStarted = Signal(object)  # Job
    progressed = Signal(object)  # StepProgress
    previewed = Signal(object)  # Preview
    panelDone = Signal(object)  # PanelDone
    jobEnded = Signal(object)  # JobOutcome (finished, cancelled or failed)
    jobFailed = Signal(object, object)  # Job, ErrorInfo
    queueChanged = Signal()
    _callDone = Signal(int, object, object)  # token, result, ErrorInfo | None

    def __init__(
        self,
        factory: EngineFactory,
        parent: QObject | None = None,
        *,
        preview_interval: float = PREVIEW_INTERVAL_S,
        warm_up: Sequence[str] = (),
    ) -> None:
        """``warm_up`` names modules the engine thread imports before it makes the engine,
        each once the window holds no foreground (:meth:`hold_foreground`); they wait at
        least until the event loop first waits for events, so the window made next comes
        up first whichever thread runs sooner."""
        super().__init__(parent)
        self._factory = factory
        self._queue = JobQueue()
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._running: Job | None = None
        self._outcomes: dict[int, list[asyncio.Future[JobOutcome]]] = {}
        self._ended: OrderedDict[int, JobOutcome] = OrderedDict()
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._stopped = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._callDone.connect(self._on_call_done)
        self._gate = ForegroundGate()
        if warm_up:
            self.hold_foreground_until_idle()
        self._thread = EngineThread(
            self, self._queue, factory, preview_interval, self._gate, tuple(warm_up)
        )
        self._thread.jobTaken.connect(self._on_started)
        self._thread.jobDone.connect(self._finish)
        self._thread.setObjectName("storyboard-engine")
        self._thread.start(QThread.Priority.LowPriority)

    def hold_foreground(self) -> Callable[[], None]:
        """Hold the engine thread's first imports back while the window does something the
        artist waits for (opening a project), until the returned function is called: see
        :mod:`storyboard_app.worker.warm_up`."""
        return self._gate.hold()

    def hold_foreground_until_idle(self) -> None:
        """Hold the engine's first imports back until Qt's event loop next waits for
        events: the window has nothing left to do then (its views have made their first
        reads and paints), which the first zero-interval timer does not promise, as the
        views queue more deferred work of their own behind it."""
        release = self._gate.hold()
        dispatcher = QAbstractEventDispatcher.instance()
        if dispatcher is None:
            QTimer.singleShot(0, release)
            return
        dispatcher.aboutToBlock.connect(release, Qt.ConnectionType.SingleShotConnection)

    def submit(self, request: JobRequest) -> Job:
        job = Job(next(self._ids), request)
        self._jobs[job.id] = job
        self._queue.put(job)
        self.jobQueued.emit(job)
        self.queueChanged.emit()
        return job

    async def run(self, request: JobRequest) -> JobOutcome:
        """Submit a job and wait for its outcome without blocking the UI."""
        return await self.outcome(self.submit(request).id)

    def outcome(self, job_id: int) -> asyncio.Future[JobOutcome]:
        """A future for the job's outcome (already resolved if the job has ended).

        A job can end before a coroutine asks for its outcome: the engine thread's
        signal may be delivered before the coroutine's first step.
        """
        future: asyncio.Future[JobOutcome] = asyncio.get_running_loop().create_future()
        if job_id in self._ended:
            future.set_result(self._ended[job_id])
        else:
            self._outcomes.setdefault(job_id, []).append(future)
        return future

    def cancel(self, job_id: int) -> None:
        """Stop the running job at its next step, or take a queued job off the queue."""
        if self._queue.cancel(job_id) is CancelResult.REMOVED:
            self._finish(JobOutcome(job_id, JobStatus.CANCELLED))

    def cancel_all(self) -> None:
        for job in reversed(self.jobs()):
            self.cancel(job.id)

    def jobs(self) -> list[Job]:
        """The running job (if any) first, then waiting jobs in the order they will run."""
        return list(self._jobs.values())

    def running_job(self) -> Job | None:
        return self._running

    def status(self, job_id: int) -> JobStatus:
        if self._running is not None and self._running.id == job_id:
            return JobStatus.RUNNING
        return JobStatus.QUEUED if job_id in self._jobs else JobStatus.FINISHED

    async def check_model(self, source: str) -> ModelCheck:
        """Try whether ``source`` could be loaded, off the UI thread and beside any render."""

        def check() -> ModelCheck:
            summary = self._factory().check_model(source)
            return ModelCheck(source, True, summary)

        try:
            return await self._call(check)
        except JobError as exc:
            return ModelCheck(source, False, error=exc.info)

    async def device_info(self, device: str | None = None) -> DeviceInfo:
        return await self._call(lambda: self._factory().device_info(device))

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, stop the thread and the pool; True when all stopped in time."""
        if self._stopped:
            return not self._thread.isRunning()
        self._stopped = True
        for job in self._queue.close():
            self._finish(JobOutcome(job.id, JobStatus.CANCELLED))
        stopped = self._thread.wait(QDeadlineTimer(timeout_ms))
        pool_done = self._pool.waitForDone(timeout_ms)
        QCoreApplication.sendPostedEvents(self)
        self._abandon_waiters()
        return stopped and pool_done

    async def _call(self, function: Callable[[], T]) -> T:
        token = next(self._tokens)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._calls[token] = future

        def task() -> None:
            try:
                self._callDone.emit(token, function(), None)
            except Exception as exc:
                logger.debug("engine call failed", exc_info=True)
                self._callDone.emit(token, None, classify_error(exc))

        self._pool.start(task)
        return await future

    def _on_call_done(self, token: int, result: object, error: ErrorInfo | None) -> None:
        future = self._calls.pop(token, None)
        if future is None or future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(JobError(error))

    def _on_started(self, job: Job) -> None:
        self._running = job
        self.jobStarted.emit(job)
        self.queueChanged.emit()

    def _finish(self, outcome: JobOutcome) -> None:
        self._ended[outcome.job_id] = outcome
        while len(self._ended) > KEPT_OUTCOMES:
            self._ended.popitem(last=False)
        job = self._jobs.pop(outcome.job_id, None)
        if self._running is not None and self._running.id == outcome.job_id:
            self._running = None
        if outcome.error is not None and job is not None:
            self.jobFailed.emit(job, outcome.error)
        self.jobEnded.emit(outcome)
        for future in self._outcomes.pop(outcome.job_id, []):
            if not future.done():
                future.set_result(outcome)
        self.queueChanged.emit()

    def _abandon_waiters(self) -> None:
        for job_id, futures in list(self._outcomes.items()):
            for future in futures:
                if not future.done():
                    future.set_result(JobOutcome(job_id, JobStatus.CANCELLED))
        self._outcomes.clear()
        for future in self._calls.values():
            if not future.done():
                future.cancel()
        self._calls.clear()


class EngineThread(QThread):
    """The loop on the engine thread: create the engine, then run jobs until the queue closes.

    ``jobTaken`` and ``jobDone`` reach the host first, so that its public signals
    always go out with the host's own state already updated.
    """

    jobTaken = Signal(object)  # Job
    jobDone = Signal(object)  # JobOutcome

    def __init__(
        self,
        host: EngineHost,
        queue: JobQueue,
        factory: EngineFactory,
        preview_interval: float,
        gate: ForegroundGate,
        warm_up: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self._host = host
        self._gate = gate
        self._warm_up = warm_up
        self._queue = queue
        self._factory = factory
        self._preview_interval = preview_interval
        self._engine: Engine | None = None

    def run(self) -> None:
        lower_thread_priority()
        import_in_turn(self._warm_up, self._gate)
        self._engine = self._create_engine()
        freeze_imported_objects()
        while (job := self._queue.take()) is not None:
            self.jobTaken.emit(job)
            outcome = self._run_job(job)
            self._queue.done()
            self.jobDone.emit(outcome)
        if self._engine is not None:
            self._engine.close()

    def _create_engine(self) -> Engine | None:
        """Create the engine at once, so torch is imported before the first job is asked for.

        A failure here is logged and tried again by the next job, which reports it.
        """
        try:
            return self._factory()
        except Exception:
            logger.exception("could not create the engine")
            return None

    def _run_job(self, job: Job) -> JobOutcome:
        reporter = ThreadReporter(self._host, job.id, self._preview_interval)
        try:
            if self._engine is None:
                self._engine = self._factory()
            self._engine.run(job, reporter, self._queue.is_cancelled)
        except JobCancelled:
            return JobOutcome(job.id, JobStatus.CANCELLED, reporter.take_ids())
        except Exception as exc:
            if isinstance(exc, StoryboardError):
                # A refused input or a project changed meanwhile: the artist gets the
                # message; it is no bug, so no traceback goes to the log.
                logger.info("job %s stopped: %s", job.id, exc)
            elif not isinstance(exc, JobError):
                logger.exception("job %s failed", job.id)
            return JobOutcome(job.id, JobStatus.FAILED, reporter.take_ids(), classify_error(exc))
        return JobOutcome(job.id, JobStatus.FINISHED, reporter.take_ids())


def lower_thread_priority(step: int = ENGINE_NICENESS) -> None:
    """Make the calling thread yield the CPU to the UI thread when both want it.

    Qt's thread priorities are ignored on Linux, where a thread has its own
    nice value instead; threads the engine starts (torch's workers) inherit it.
    A render then takes no longer on an idle machine, but on a busy one the
    window keeps its share of the CPU and stays responsive.
    """
    if not hasattr(os, "setpriority"):
        return
    thread = threading.get_native_id()
    target = os.getpriority(os.PRIO_PROCESS, 0) + step
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < target:
            os.setpriority(os.PRIO_PROCESS, thread, target)
    except OSError:
        logger.debug("could not lower the engine thread's priority", exc_info=True)


class ThreadReporter:
    """Turns an engine's reports into signals; previews are thinned out to spare the UI."""

    def __init__(self, host: EngineHost, job_id: int, preview_interval: float) -> None:
        self._host = host
        self._job_id = job_id
        self._interval = preview_interval
        self._last_preview: dict[int | str, float] = {}
        self._takes: list[int] = []

    def progress(
        self,
        stage: str,
        label: str,
        step: int,
        steps: int,
        pass_index: int,
        pass_count: int,
        scene_ids: tuple[int, ...],
    ) -> None:
        self._host.progressed.emit(
            StepProgress(self._job_id, stage, label, step, steps, pass_index, pass_count, scene_ids)
        )

    def wants_preview(self, key: int | str) -> bool:
        """True at most once per interval for each key: the engine makes a preview only
        then, so the steps in between cost no device-to-host copy."""
        now = time.monotonic()
        if now - self._last_preview.get(key, -self._interval) < self._interval:
            return False
        self._last_preview[key] = now
        return True

    def preview(self, key: int | str, image: np.ndarray) -> None:
        """Show a preview made after :meth:`wants_preview` said yes."""
        self._host.previewed.emit(Preview(self._job_id, key, image))

    def panel_done(self, scene_id: int, take_id: int) -> None:
        self._takes.append(take_id)
        self._host.panelDone.emit(PanelDone(self._job_id, scene_id, take_id))

    def take_ids(self) -> tuple[int, ...]:
        return tuple(self._takes)
