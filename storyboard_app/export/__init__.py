"""Exports: what leaves the app for directors, editors and readers.

PDF comics and storyboard sheets, the MP4 animatic, PNG sequences and panel
images, CBZ comic archives, and editorial timelines (OTIO, FCP 7 XML, EDL).
No Qt and no torch here: every export is a plain function taking an open
:class:`ProjectStore`, an options dataclass, an optional progress callback and
an optional cancel check, so the CLI, a worker thread and tests call them the
same way. Each writes to a temporary sibling and renames it into place, so the
output path never holds a half-written file.
"""

from storyboard_app.export.animatic import FrameOptions, animatic_frames
from storyboard_app.export.cbz import CbzOptions, export_cbz
from storyboard_app.export.editorial import FORMATS as EDITORIAL_FORMATS
from storyboard_app.export.editorial import EditorialOptions, export_editorial
from storyboard_app.export.errors import (
    ExportCancelledError,
    ExportError,
    ExportOptionsError,
    NothingToExportError,
    OutputPathError,
)
from storyboard_app.export.frames import FrameStyle, TimelineFrames
from storyboard_app.export.page_setup import (
    PAPER_SIZES_MM,
    PageSetup,
    default_paper,
    paper_for_locale,
    parse_page_size,
)
from storyboard_app.export.pdf import (
    LAYOUTS,
    PagePreview,
    PdfOptions,
    export_pdf,
    preview_first_page,
    preview_pages,
)
from storyboard_app.export.progress import CancelCheck, ExportProgress, ProgressCallback
from storyboard_app.export.result import ExportResult
from storyboard_app.export.stills import export_frames, export_panel_images
from storyboard_app.export.video import VideoOptions, export_mp4, preview_first_frame

__all__ = [
    "EDITORIAL_FORMATS",
    "LAYOUTS",
    "PAPER_SIZES_MM",
    "CancelCheck",
    "CbzOptions",
    "EditorialOptions",
    "ExportCancelledError",
    "ExportError",
    "ExportOptionsError",
    "ExportProgress",
    "ExportResult",
    "FrameOptions",
    "FrameStyle",
    "NothingToExportError",
    "OutputPathError",
    "PagePreview",
    "PageSetup",
    "PdfOptions",
    "ProgressCallback",
    "TimelineFrames",
    "VideoOptions",
    "animatic_frames",
    "default_paper",
    "export_cbz",
    "export_editorial",
    "export_frames",
    "export_mp4",
    "export_panel_images",
    "export_pdf",
    "paper_for_locale",
    "parse_page_size",
    "preview_first_frame",
    "preview_first_page",
    "preview_pages",
]
