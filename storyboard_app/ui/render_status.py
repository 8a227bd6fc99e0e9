"""What the engine is doing to each panel of the open project: queued, rendering, live preview.

Built from the engine host's signals; the storyboard and the inspector read it
to show "queued", "rendering 12/30" and the step previews on the panel cards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from storyboard_app.ui.images import qimage_from_array
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import (
    Job,
    JobKind,
    JobOutcome,
    PanelDone,
    Preview,
    StepProgress,
)


@dataclass(frozen=True)
class PanelActivity:
    """A panel's part in the engine's work; ``steps`` is 0 until its own pass starts."""

    running: bool
    step: int = 0
    steps: int = 0

    def describe(self) -> str:
        if not self.running:
            return "queued"
        if self.steps == 0:
            return "preparing"
        return f"rendering {self.step}/{self.steps}"


class RenderStatusBook(QObject):
    """Per panel of one project: what the engine is doing to it, and its latest preview."""

    changed = Signal(object)  # tuple of scene ids whose activity or preview changed

    def __init__(
        self,
        host: EngineHost,
        project: Path,
        all_scene_ids: Callable[[], Iterable[int]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._project = project
        self._all_scene_ids = all_scene_ids
        self._jobs: dict[int, tuple[int, ...]] = {}
        self._running: int | None = None
        self._steps: dict[int, tuple[int, int]] = {}
        self._previews: dict[int, QImage] = {}
        host.jobQueued.connect(self._on_queued)
        host.jobStarted.connect(self._on_started)
        host.progressed.connect(self._on_progress)
        host.previewed.connect(self._on_preview)
        host.panelDone.connect(self._on_panel_done)
        host.jobEnded.connect(self._on_ended)
        for job in host.jobs():
            self._on_queued(job)

    def activity(self, scene_id: int) -> PanelActivity | None:
        jobs = [job_id for job_id, ids in self._jobs.items() if scene_id in ids]
        if not jobs:
            return None
        if self._running not in jobs:
            return PanelActivity(running=False)
        step, steps = self._steps.get(scene_id, (0, 0))
        return PanelActivity(running=True, step=step, steps=steps)

    def preview(self, scene_id: int) -> QImage | None:
        return self._previews.get(scene_id)

    def _on_queued(self, job: Job) -> None:
        if job.request.project != self._project:
            return
        ids = job.scene_ids if job.scene_ids is not None else tuple(self._all_scene_ids())
        self._jobs[job.id] = tuple(ids) if job.kind is not JobKind.IDENTITY else ()
        self.changed.emit(self._jobs[job.id])

    def _on_started(self, job: Job) -> None:
        if job.id in self._jobs:
            self._running = job.id
            self.changed.emit(self._jobs[job.id])

    def _on_progress(self, progress: StepProgress) -> None:
        if progress.job_id != self._running or progress.stage != "panel":
            return
        for scene_id in progress.scene_ids:
            self._steps[scene_id] = (progress.step, progress.steps)
        self.changed.emit(progress.scene_ids)

    def _on_preview(self, preview: Preview) -> None:
        if preview.job_id in self._jobs and isinstance(preview.key, int):
            self._previews[preview.key] = qimage_from_array(preview.image)
            self.changed.emit((preview.key,))

    def _on_panel_done(self, done: PanelDone) -> None:
        if done.job_id not in self._jobs:
            return
        self._jobs[done.job_id] = tuple(i for i in self._jobs[done.job_id] if i != done.scene_id)
        self._forget_panel(done.scene_id)
        self.changed.emit((done.scene_id,))

    def _on_ended(self, outcome: JobOutcome) -> None:
        ids = self._jobs.pop(outcome.job_id, None)
        if ids is None:
            return
        if self._running == outcome.job_id:
            self._running = None
        for scene_id in ids:
            self._forget_panel(scene_id)
        self.changed.emit(ids)

    def _forget_panel(self, scene_id: int) -> None:
        self._steps.pop(scene_id, None)
        self._previews.pop(scene_id, None)
