"""The status bar's job area: what the engine is doing, its progress, Cancel, and the queue."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import Job, StepProgress

PROGRESS_SCALE = 1000


class JobStatusBar(QWidget):
    def __init__(self, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.label = QLabel("Engine idle")
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running render; finished panels are kept.")
        self.queue_button = QToolButton()
        self.queue_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.queue_menu = QMenu(self)
        self.queue_button.setMenu(self.queue_menu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.progress, self.cancel_button, self.queue_button):
            layout.addWidget(widget)
        self.cancel_button.clicked.connect(self.cancel_running)
        host.queueChanged.connect(self.refresh)
        host.progressed.connect(self._on_progress)
        self.refresh()

    def cancel_running(self) -> None:
        job = self._host.running_job()
        if job is not None:
            self._host.cancel(job.id)
            self.label.setText(f"{job.describe()}: cancelling…")

    def refresh(self) -> None:
        running = self._host.running_job()
        waiting = [job for job in self._host.jobs() if job is not running]
        self.label.setText(running.describe() + "…" if running else "Engine idle")
        self.progress.setVisible(running is not None)
        if running is None:
            self.progress.setValue(0)
        self.cancel_button.setEnabled(running is not None)
        self.queue_button.setText(f"Queue: {len(waiting)}")
        self.queue_button.setEnabled(bool(waiting))
        self._fill_queue_menu(waiting)

    def _fill_queue_menu(self, waiting: list[Job]) -> None:
        self.queue_menu.clear()
        for job in waiting:
            action = self.queue_menu.addAction(f"Remove “{job.describe()}”")
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
        what = "identity of" if progress.stage == "identity" else "panel"
        self.label.setText(
            f"{running.describe()}: {what} {progress.label}, step {progress.step}/{progress.steps}"
            f" (pass {progress.pass_index}/{progress.pass_count})"
        )
