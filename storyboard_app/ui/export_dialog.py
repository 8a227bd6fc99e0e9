"""The Export dialog: pick a format and options, page through the preview, export.

The preview and the export both run in the thread pool (see :mod:`export_jobs`);
the dialog only builds an :class:`ExportJob` from its widgets and shows results.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLocale, Qt, QThreadPool, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.export import (
    LAYOUTS,
    PAPER_SIZES_MM,
    PageSetup,
    PdfOptions,
    VideoOptions,
    paper_for_locale,
)
from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.export_jobs import (
    EXPORT_KINDS,
    KINDS_BY_KEY,
    ExportJob,
    ExportTask,
    Preview,
    PreviewTask,
)
from storyboard_app.ui.images import qimage_from_array
from storyboard_app.ui.wheel_guard import guard_wheel_in

PREVIEW_DELAY_MS = 200
PREVIEW_SIZE = 360
VIDEO_SIZES = {
    "Project aspect, 720 lines": None,
    "1920x1080": (1920, 1080),
    "1280x720": (1280, 720),
}


class PdfOptionsForm(QWidget):
    """Layout, paper and captions of PDF (and CBZ) exports."""

    def __init__(self) -> None:
        super().__init__()
        self.layout_box = QComboBox()
        self.layout_box.addItems(LAYOUTS)
        self.page_box = QComboBox()
        self.page_box.addItems(list(PAPER_SIZES_MM))
        self.page_box.setCurrentText(paper_for_locale(QLocale().name()))
        self.landscape = QCheckBox("Landscape")
        self.title_page = QCheckBox("Title page")
        self.title_page.setChecked(True)
        self.captions = QCheckBox("Captions")
        self.captions.setChecked(True)
        form = QFormLayout(self)
        form.addRow("Layout", self.layout_box)
        form.addRow("Paper", self.page_box)
        for box in (self.landscape, self.title_page, self.captions):
            form.addRow("", box)

    def options(self) -> PdfOptions:
        page = PageSetup(
            size_mm=PAPER_SIZES_MM[self.page_box.currentText()],
            landscape=self.landscape.isChecked(),
        )
        return PdfOptions(
            layout=self.layout_box.currentText(),
            page=page,
            title_page=self.title_page.isChecked(),
            captions=self.captions.isChecked(),
        )

    def watch(self, changed: object) -> None:
        for box in (self.layout_box, self.page_box):
            box.currentIndexChanged.connect(changed)
        for check in (self.landscape, self.title_page, self.captions):
            check.toggled.connect(changed)


class VideoOptionsForm(QWidget):
    """Frame size and rate, and what is burnt in, for the animatic and frame exports."""

    def __init__(self) -> None:
        super().__init__()
        self.size_box = QComboBox()
        self.size_box.addItems(list(VIDEO_SIZES))
        self.frame_rate = QSpinBox()
        self.frame_rate.setRange(0, 120)
        self.frame_rate.setSpecialValueText("Project rate")
        self.captions = QCheckBox("Burn in captions")
        self.numbers = QCheckBox("Burn in panel numbers")
        form = QFormLayout(self)
        form.addRow("Size", self.size_box)
        form.addRow("Frame rate", self.frame_rate)
        form.addRow("", self.captions)
        form.addRow("", self.numbers)

    def options(self) -> VideoOptions:
        return VideoOptions(
            size=VIDEO_SIZES[self.size_box.currentText()],
            frame_rate=self.frame_rate.value() or None,
            captions=self.captions.isChecked(),
            panel_numbers=self.numbers.isChecked(),
        )

    def watch(self, changed: object) -> None:
        self.size_box.currentIndexChanged.connect(changed)
        self.frame_rate.valueChanged.connect(changed)
        self.captions.toggled.connect(changed)
        self.numbers.toggled.connect(changed)


class ExportDialog(QDialog):
    """Export the project at ``project`` in any format, with a live preview."""

    def __init__(self, project: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.project = project
        self.pool = QThreadPool.globalInstance()
        self.task: ExportTask | None = None
        self._preview_serial = 0
        self.preview_index = 0  # the page shown (0-based)
        self.preview_count = 1
        self._build()
        guard_wheel_in(self)
        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._start_preview)
        self.pdf_form.watch(self._options_changed)
        self.video_form.watch(self._options_changed)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _build(self) -> None:
        self.kind_box = QComboBox()
        for kind in EXPORT_KINDS:
            self.kind_box.addItem(kind.label, kind.key)
        self.target = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target)
        target_row.addWidget(browse)
        self.pdf_form = PdfOptionsForm()
        self.video_form = VideoOptionsForm()
        self.option_pages = QStackedWidget()
        self.option_pages.addWidget(self.pdf_form)
        self.option_pages.addWidget(self.video_form)
        self.option_pages.addWidget(QLabel("No options: durations come from the timeline."))
        self.preview = QLabel("Preview…", alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIZE, PREVIEW_SIZE * 3 // 4)
        self.previous_page = QPushButton("◀")
        self.previous_page.setToolTip("Previous page")
        self.next_page = QPushButton("▶")
        self.next_page.setToolTip("Next page")
        self.page_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.previous_page.clicked.connect(lambda: self.show_page(self.preview_index - 1))
        self.next_page.clicked.connect(lambda: self.show_page(self.preview_index + 1))
        self.message = QLabel(wordWrap=True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(
            "Cancel export", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.cancel_button.setEnabled(False)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Format", self.kind_box)
        form.addRow("Save to", target_row)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.option_pages)
        left.addStretch(1)
        pager = QHBoxLayout()
        pager.addWidget(self.previous_page)
        pager.addWidget(self.page_label, 1)
        pager.addWidget(self.next_page)
        right = QVBoxLayout()
        right.addWidget(self.preview, 1)
        right.addLayout(pager)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)

    def kind(self) -> str:
        return str(self.kind_box.currentData())

    def job(self) -> ExportJob:
        """The export the widgets describe; raises StoryboardError for invalid options."""
        text = self.target.text().strip()
        if not text:
            raise StoryboardError("Choose where to save the export.", "Use Browse… or type a path.")
        return ExportJob(
            project=self.project,
            kind=self.kind(),
            target=Path(text).expanduser(),
            pdf=self.pdf_form.options(),
            video=self.video_form.options(),
        )

    def _kind_changed(self) -> None:
        kind = KINDS_BY_KEY[self.kind()]
        page = 0 if kind.pages else 1 if kind.key in ("mp4", "frames") else 2
        self.option_pages.setCurrentIndex(page)
        self.target.setText(str(default_target(self.project, kind.key)))
        self._update_pager()
        self._options_changed()

    def _options_changed(self) -> None:
        self._preview_timer.start()

    def show_page(self, index: int) -> None:
        """Preview page ``index`` (0-based) of the document, kept within its pages."""
        self.preview_index = min(max(index, 0), self.preview_count - 1)
        self._update_pager()
        self._preview_timer.start()

    def _update_pager(self) -> None:
        paged = KINDS_BY_KEY[self.kind()].pages
        for widget in (self.previous_page, self.next_page, self.page_label):
            widget.setVisible(paged)
        self.page_label.setText(f"Page {self.preview_index + 1} of {self.preview_count}")
        self.previous_page.setEnabled(self.preview_index > 0)
        self.next_page.setEnabled(self.preview_index < self.preview_count - 1)

    def _browse(self) -> None:
        kind = KINDS_BY_KEY[self.kind()]
        if kind.folder:
            chosen = QFileDialog.getExistingDirectory(
                self, "Export into folder", self.target.text()
            )
        else:
            pattern = " ".join(f"*{suffix}" for suffix in kind.suffixes)
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export as", self.target.text(), f"{kind.label} ({pattern})"
            )
        if chosen:
            self.target.setText(chosen)

    def _start_preview(self) -> None:
        kind = self.kind()
        if not (KINDS_BY_KEY[kind].pages or kind in ("mp4", "frames")):
            self.preview.setText("No preview for editorial timelines.")
            return
        try:
            job = ExportJob(
                self.project,
                kind,
                Path(),
                self.pdf_form.options(),
                self.video_form.options(),
                preview_page=self.preview_index,
            )
        except StoryboardError as exc:
            self._show_error(exc.message, exc.hint)
            return
        self._preview_serial += 1
        task = PreviewTask(job, self._preview_serial)
        task.signals.preview.connect(self._show_preview)
        task.signals.failed.connect(self._show_error)
        self.pool.start(task)

    def _show_preview(self, result: tuple[int, Preview]) -> None:
        serial, preview = result
        if serial != self._preview_serial:
            return
        self.preview_index, self.preview_count = preview.page, preview.pages
        self._update_pager()
        pixmap = QPixmap.fromImage(qimage_from_array(preview.pixels))
        self.preview.setPixmap(
            pixmap.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def start_export(self) -> None:
        try:
            job = self.job()
        except StoryboardError as exc:
            self._show_error(exc.message, exc.hint)
            return
        self.task = ExportTask(job)
        self.task.signals.progress.connect(self._show_progress)
        self.task.signals.finished.connect(self._export_finished)
        self.task.signals.failed.connect(self._export_failed)
        self.task.signals.cancelled.connect(self._export_cancelled)
        self._set_running(True)
        self.message.setText("Exporting…")
        self.pool.start(self.task)

    def cancel_export(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _show_progress(self, done: int, total: int, unit: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} {unit}")

    def _export_finished(self, summary: str) -> None:
        self._set_running(False)
        self.message.setText(summary)

    def _export_failed(self, message: str, hint: str) -> None:
        self._set_running(False)
        self._show_error(message, hint)

    def _export_cancelled(self) -> None:
        self._set_running(False)
        self.message.setText("Export cancelled; nothing was written.")

    def _show_error(self, message: str, hint: str) -> None:
        self.message.setText(f"<b>{message}</b><br>{hint}" if hint else f"<b>{message}</b>")

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.export_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.task = None

    def done(self, result: int) -> None:
        """Closing cancels a running export; the pool finishes it without a half-written file."""
        self.cancel_export()
        super().done(result)


def default_target(project: Path, kind: str) -> Path:
    """``<project name>.<ext>`` (or ``<name>_<kind>`` folder) beside the project folder."""
    stem = project.name.removesuffix(".storyboard") or "storyboard"
    suffixes = KINDS_BY_KEY[kind].suffixes
    if not suffixes:
        return project.parent / f"{stem}_{kind}"
    return project.parent / f"{stem}{suffixes[0]}"
