"""RenderController: Render and Reroll for the open project, from request to finished takes.

It refuses early when no model is configured (with the way to configure one),
submits jobs with this machine's engine options, refreshes panels as each one
finishes, and reports the outcome. UI code awaits the outcome with qasync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.message_bar import FixAction, Severity, UserMessage
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import Job, JobKind, JobOutcome, JobRequest, JobStatus, PanelDone

NO_MODEL = UserMessage(
    Severity.WARNING,
    "No model is configured for this project, so panels cannot be rendered yet.",
    "Open Settings (Ctrl+,) and choose a model: a .safetensors checkpoint, a diffusers folder "
    "or a Hugging Face id already downloaded to this computer ('tiny' is a small test model). "
    "Writing, arranging, importing pictures and exporting all work without one.",
    FixAction.SETTINGS,
)


class RenderController(QObject):
    messageRaised = Signal(object)  # UserMessage
    jobFinished = Signal(object)  # JobOutcome of one of this project's jobs
    idle = Signal()  # the last of this project's jobs ended

    def __init__(
        self,
        session: ProjectSession,
        host: EngineHost,
        app_settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._host = host
        self._app_settings = app_settings
        self._jobs: dict[int, Job] = {}
        self._finished_panels: list[int] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self._refresh_next_panel)
        host.panelDone.connect(self._on_panel_done)
        host.jobEnded.connect(self._on_job_ended)

    def submit(
        self, scene_ids: Sequence[int] | None, *, reroll: bool = False, keep_picked: bool = False
    ) -> Job | None:
        """Queue a render (all panels when ``scene_ids`` is None); None if it cannot start.

        ``keep_picked``: takes the artist picked by hand stay active (Re-render Every Panel).
        """
        if not self._session.store.settings().model_source:
            self.messageRaised.emit(NO_MODEL)
            return None
        if scene_ids is not None and not scene_ids:
            return None
        kind = JobKind.REROLL if reroll else JobKind.RENDER
        ids = tuple(scene_ids) if scene_ids is not None else None
        return self._submit(kind, ids, keep_picked)

    def build_identities(self) -> Job | None:
        if not self._session.store.settings().model_source:
            self.messageRaised.emit(NO_MODEL)
            return None
        return self._submit(JobKind.IDENTITY, None)

    def outcome(self, job: Job) -> asyncio.Future[JobOutcome]:
        """The job's outcome, to ``await`` without blocking the window."""
        return self._host.outcome(job.id)

    def busy(self) -> bool:
        """Whether a job of this project is queued or running."""
        return bool(self._jobs)

    def describe_work(self) -> str:
        """What is under way, for a question: "Render 4 panels", "Render 4 panels and 1 more"."""
        jobs = list(self._jobs.values())
        if not jobs:
            return "Nothing"
        more = len(jobs) - 1
        return jobs[0].describe() + (
            f" and {more} more job{'s' if more > 1 else ''}" if more else ""
        )

    def cancel_all(self) -> None:
        for job_id in list(self._jobs):
            self._host.cancel(job_id)

    def _submit(
        self, kind: JobKind, scene_ids: tuple[int, ...] | None, keep_picked: bool = False
    ) -> Job:
        options = self._app_settings.engine_options()
        request = JobRequest(kind, self._session.folder, scene_ids, options, keep_picked)
        job = self._host.submit(request)
        self._jobs[job.id] = job
        return job

    def _on_panel_done(self, done: PanelDone) -> None:
        """Panels of a window finish together; the views catch up one panel per loop turn,
        so a window of many panels never holds the UI thread for long."""
        if done.job_id in self._jobs and done.scene_id not in self._finished_panels:
            self._finished_panels.append(done.scene_id)
            self._refresh_timer.start()

    def _refresh_next_panel(self) -> None:
        if self._finished_panels:
            self._session.changed(scene_ids=[self._finished_panels.pop(0)])
        if self._finished_panels:
            self._refresh_timer.start()

    def _on_job_ended(self, outcome: JobOutcome) -> None:
        job = self._jobs.pop(outcome.job_id, None)
        if job is None:
            return
        if outcome.error is not None:
            self.messageRaised.emit(UserMessage.from_engine(outcome.error))
        elif outcome.status is JobStatus.CANCELLED:
            kept = len(outcome.take_ids)
            self.messageRaised.emit(
                UserMessage(
                    Severity.INFO,
                    f"{job.describe()}: cancelled.",
                    f"{kept} finished panel(s) kept; nothing half-rendered was stored.",
                )
            )
        self.jobFinished.emit(outcome)
        if not self._jobs:
            self.idle.emit()
