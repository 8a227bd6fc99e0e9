"""The status bar's job area: what the engine is doing, its progress, the time, Cancel, the queue.

Every part has a fixed width, so the progress bar and Cancel stay where the
hand expects them while the wording changes ("Building Mara’s identity: step
12/30", "Panel 4 of 9: step 3/30"); a text too long for its place is elided and
shown whole in the tooltip. The time is measured here, from the step reports
(:class:`StepClock`); the queue names each job's panels by number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from storyboard_app.ui.job_wording import StepClock, describe_job, describe_step
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import Job, PanelDone, StepProgress

PROGRESS_SCALE = 1000
TICK_MS = 1000
# Widths in average characters of the status bar's font.
LABEL_CHARS = 44
TIME_CHARS = 30
PROGRESS_WIDTH = 160
PanelNumbers = Callable[[], Mapping[int, int]]


class JobStatusBar(QWidget):
    def __init__(
        self,
        host: EngineHost,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._clock = clock
        self._steps = StepClock()
        self._project: Path | None = None
        self._numbers: PanelNumbers | None = None
        self._numbers_read: Mapping[int, int] | None = None
        self._running_id: int | None = None
        self._total: int | None = None
        self._done = 0
        self._last_text = ""
        self.label = QLabel()
        self.time_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running render; finished panels are kept.")
        self.queue_button = QToolButton()
        self.queue_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.queue_menu = QMenu(self)
        self.queue_button.setMenu(self.queue_menu)
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._show_time)
        self._fix_widths()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (
            self.label,
            self.progress,
            self.time_label,
            self.cancel_button,
            self.queue_button,
        ):
            layout.addWidget(widget)
        self.cancel_button.clicked.connect(self.cancel_running)
        host.queueChanged.connect(self.refresh)
        host.progressed.connect(self._on_progress)
        host.panelDone.connect(self._on_panel_done)
        self.refresh()

    def set_panels(self, project: Path | None, numbers: PanelNumbers | None) -> None:
        """The open project and its panel numbers by scene id, so jobs name their panels."""
        self._project = project
        self._numbers = numbers
        self.refresh()

    def cancel_running(self) -> None:
        job = self._host.running_job()
        self._numbers_read = None
        if job is not None:
            self._host.cancel(job.id)
            self._set_label(f"{self.describe(job)}: cancelling…")

    def describe(self, job: Job) -> str:
        """The job as the queue names it: its panels by number when it is this project's."""
        return describe_job(job, self._panel_numbers(job))

    def refresh(self) -> None:
        self._numbers_read = None
        running = self._host.running_job()
        if running is None or running.id != self._running_id:
            self._job_changed(running)
        waiting = [job for job in self._host.jobs() if job is not running]
        if running is None:
            self._set_label("Engine idle")
        elif self._last_text == "":
            self._set_label(f"{self.describe(running)}: starting…")
        self.progress.setEnabled(running is not None)
        self.cancel_button.setEnabled(running is not None)
        self.queue_button.setText(f"Queue: {len(waiting)}")
        self.queue_button.setEnabled(bool(waiting))
        self.queue_button.setToolTip(
            "\n".join(self.describe(job) for job in waiting) or "Nothing is waiting."
        )
        self._fill_queue_menu(waiting)

    def _job_changed(self, running: Job | None) -> None:
        self._running_id = running.id if running is not None else None
        self._done = 0
        self._last_text = ""
        self.progress.setValue(0)
        self._total = None
        if running is None:
            self._steps.stop()
            self._ticker.stop()
            self.time_label.clear()
            return
        numbers = self._panel_numbers(running)
        if running.scene_ids is not None:
            self._total = len(running.scene_ids)
        elif numbers is not None:
            self._total = len(numbers)
        self._steps.start(self._clock())
        self._ticker.start()
        self._show_time()

    def _panel_numbers(self, job: Job) -> Mapping[int, int] | None:
        """Read once per refresh: every job of the queue is named from the same read."""
        if self._numbers is None or job.request.project != self._project:
            return None
        if self._numbers_read is None:
            self._numbers_read = self._numbers()
        return self._numbers_read

    def _fill_queue_menu(self, waiting: list[Job]) -> None:
        self.queue_menu.clear()
        for job in waiting:
            action = self.queue_menu.addAction(f"Remove “{self.describe(job)}”")
            action.setData(job.id)
            action.triggered.connect(self._remove_from_action)

    def _remove_from_action(self) -> None:
        action = self.sender()
        job_id = action.data() if action is not None else None
        if isinstance(job_id, int):
            self._host.cancel(job_id)

    def _on_progress(self, progress: StepProgress) -> None:
        running = self._host.running_job()
        if running is None or progress.job_id != running.id:
            return
        self.progress.setValue(int(progress.fraction * PROGRESS_SCALE))
        self._steps.tick(progress, self._clock())
        total = self._total if progress.stage == "panel" else None
        self._set_label(describe_step(progress, total, self._done))
        self.label.setToolTip(f"{self.describe(running)}\n{self._last_text}")
        self._show_time()

    def _on_panel_done(self, done: PanelDone) -> None:
        if done.job_id == self._running_id:
            self._done += 1

    def _show_time(self) -> None:
        if self._steps.running:
            self._set_elided(self.time_label, self._steps.describe(self._clock()))

    def _set_label(self, text: str) -> None:
        self._last_text = text if self._host.running_job() is not None else ""
        self._set_elided(self.label, text)

    def _set_elided(self, label: QLabel, text: str) -> None:
        metrics = label.fontMetrics()
        label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, label.width()))
        label.setToolTip(text)

    def _fix_widths(self) -> None:
        """Fixed widths from the font, so nothing moves as the words change."""
        average = self.fontMetrics().averageCharWidth()
        self.label.setFixedWidth(LABEL_CHARS * average)
        self.time_label.setFixedWidth(TIME_CHARS * average)
        self.progress.setFixedWidth(PROGRESS_WIDTH)
        for button, widest in ((self.cancel_button, "Cancel"), (self.queue_button, "Queue: 99")):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance(widest) + 4 * average)
