"""Exports run off the UI thread: a plain job description and a pool task around it.

The task opens its own short-lived :class:`ProjectStore` in the pool thread
(SQLite sessions belong to the thread that uses them) and reports back through
Qt signals carrying plain data only: numbers, strings and RGB arrays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal

from storyboard_app.export import (
    CbzOptions,
    ExportCancelledError,
    ExportProgress,
    ExportResult,
    PdfOptions,
    VideoOptions,
    export_cbz,
    export_editorial,
    export_frames,
    export_mp4,
    export_panel_images,
    export_pdf,
    preview_first_frame,
    preview_pages,
)
from storyboard_app.export.progress import CancelCheck, ProgressCallback
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.store import ProjectStore

PREVIEW_DPI = 48.0


@dataclass(frozen=True)
class ExportKind:
    key: str
    label: str
    suffixes: tuple[str, ...]
    folder: bool = False
    pages: bool = False


EXPORT_KINDS: tuple[ExportKind, ...] = (
    ExportKind("pdf", "PDF comic / storyboard sheets", (".pdf",), pages=True),
    ExportKind("mp4", "MP4 animatic", (".mp4",)),
    ExportKind("cbz", "CBZ comic archive", (".cbz",), pages=True),
    ExportKind("otio", "OpenTimelineIO (.otio)", (".otio",)),
    ExportKind("fcp_xml", "Final Cut Pro 7 XML (Premiere, Resolve)", (".xml",)),
    ExportKind("edl", "CMX 3600 EDL", (".edl",)),
    ExportKind("frames", "PNG image sequence (folder)", (), folder=True),
    ExportKind("panels", "Panel images (folder)", (), folder=True),
)
KINDS_BY_KEY = {kind.key: kind for kind in EXPORT_KINDS}


@dataclass(frozen=True)
class ExportJob:
    """Everything one export needs; safe to hand to another thread."""

    project: Path
    kind: str
    target: Path
    pdf: PdfOptions = field(default_factory=PdfOptions)
    video: VideoOptions = field(default_factory=VideoOptions)
    preview_page: int = 0  # which page the preview shows (0-based; page formats)


@dataclass(frozen=True)
class Preview:
    """A preview image (RGB pixels), and for page formats which page of how many it is."""

    pixels: np.ndarray
    page: int = 0
    pages: int = 1


def run_export(
    job: ExportJob, on_progress: ProgressCallback, is_cancelled: CancelCheck
) -> ExportResult:
    """Run ``job`` against its own connection to the project."""
    with ProjectStore.open(job.project) as store:
        if job.kind == "pdf":
            return export_pdf(store, job.target, job.pdf, on_progress, is_cancelled)
        if job.kind == "mp4":
            return export_mp4(store, job.target, job.video, on_progress, is_cancelled)
        if job.kind == "cbz":
            options = CbzOptions(captions=job.pdf.captions)
            return export_cbz(store, job.target, options, on_progress, is_cancelled)
        if job.kind == "frames":
            return export_frames(store, job.target, job.video, on_progress, is_cancelled)
        if job.kind == "panels":
            return export_panel_images(store, job.target, on_progress, is_cancelled)
        return export_editorial(store, job.target, job.kind, None, on_progress, is_cancelled)


def render_preview(job: ExportJob) -> Preview:
    """Page ``job.preview_page`` (page formats) or the first frame (video formats) of ``job``."""
    with ProjectStore.open(job.project) as store:
        if KINDS_BY_KEY[job.kind].pages:
            page = preview_pages(store, job.pdf, job.preview_page, dpi=PREVIEW_DPI)
            return Preview(np.asarray(page.image.convert("RGB")), page.index, page.count)
        image = preview_first_frame(store, job.video)
    return Preview(np.asarray(image.convert("RGB")))


class TaskSignals(QObject):
    progress = Signal(int, int, str)
    finished = Signal(str)
    failed = Signal(str, str)
    cancelled = Signal()
    preview = Signal(object)


class ExportTask(QRunnable):
    """One export in the global thread pool; :meth:`cancel` is checked between units."""

    def __init__(self, job: ExportJob) -> None:
        super().__init__()
        self.job = job
        self.signals = TaskSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        def report(progress: ExportProgress) -> None:
            self.signals.progress.emit(progress.done, progress.total, progress.unit)

        try:
            result = run_export(self.job, report, self._cancel.is_set)
        except ExportCancelledError:
            self.signals.cancelled.emit()
        except StoryboardError as exc:
            self.signals.failed.emit(exc.message, exc.hint)
        except Exception as exc:  # a pool thread must report every failure, never die silently
            self.signals.failed.emit(f"The export failed: {exc}", "Please report this problem.")
        else:
            self.signals.finished.emit(result.describe())


class PreviewTask(QRunnable):
    """Renders the preview of a job in the pool; stale results are ignored by the dialog."""

    def __init__(self, job: ExportJob, serial: int) -> None:
        super().__init__()
        self.job = job
        self.serial = serial
        self.signals = TaskSignals()

    def run(self) -> None:
        try:
            self.signals.preview.emit((self.serial, render_preview(self.job)))
        except StoryboardError as exc:
            self.signals.failed.emit(exc.message, exc.hint)
        except Exception as exc:  # a pool thread must report every failure, never die silently
            self.signals.failed.emit(f"No preview: {exc}", "")
