"""PDF export: comic pages, four-panel strips, one panel per page, storyboard worksheets.

Pages are laid out as plain items first (see :mod:`page_items`), then drawn
by reportlab into a temporary file that replaces the target only when
complete. The same layout drawn with Pillow is the dialog's live preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from storyboard_app.export.comic_layouts import comic_pages, strip_pages
from storyboard_app.export.errors import ExportOptionsError
from storyboard_app.export.layout_common import footer, title_page
from storyboard_app.export.output import atomic_file, check_output_file
from storyboard_app.export.page_items import Page, PageItem
from storyboard_app.export.page_preview import render_page
from storyboard_app.export.page_setup import PageSetup
from storyboard_app.export.pdf_canvas import write_pdf
from storyboard_app.export.progress import (
    CancelCheck,
    ProgressCallback,
    Steps,
    never_cancelled,
    no_progress,
)
from storyboard_app.export.result import ExportResult
from storyboard_app.export.sheet_layouts import single_pages, worksheet_pages
from storyboard_app.export.story import Story, collect_story
from storyboard_app.project.store import ProjectStore

LAYOUTS = ("comic", "strip", "single", "worksheet")
MAX_PANELS_PER_ROW = 4
MAX_PANELS_PER_PAGE = 8


@dataclass(frozen=True)
class PdfOptions:
    """How to lay out the PDF.

    ``panels_per_row`` applies to the comic layout (0 alternates rows of 2 and
    3 panels); ``panels_per_page`` to the worksheet. An empty ``title`` uses the
    project's name.
    """

    layout: str = "comic"
    page: PageSetup = field(default_factory=PageSetup)
    title_page: bool = True
    captions: bool = True
    panels_per_row: int = 0
    panels_per_page: int = 4
    title: str = ""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ExportOptionsError(
                f"{self.layout!r} is not a PDF layout.", "Use one of: " + ", ".join(LAYOUTS) + "."
            )
        if not 0 <= self.panels_per_row <= MAX_PANELS_PER_ROW:
            raise ExportOptionsError(
                f"{self.panels_per_row} panels per row is out of range.",
                f"Use 1 to {MAX_PANELS_PER_ROW}, or 0 to alternate rows of 2 and 3.",
            )
        if not 1 <= self.panels_per_page <= MAX_PANELS_PER_PAGE:
            raise ExportOptionsError(
                f"{self.panels_per_page} panels per worksheet page is out of range.",
                f"Use 1 to {MAX_PANELS_PER_PAGE}.",
            )


def layout_pages(story: Story, options: PdfOptions) -> list[Page]:
    """Every page of the document, title page first, with page numbers in the footers."""
    title = options.title.strip() or story.title
    setup = options.page
    if options.layout == "comic":
        bodies = comic_pages(story, setup, options.panels_per_row, options.captions)
    elif options.layout == "strip":
        bodies = strip_pages(story, setup, options.captions)
    elif options.layout == "single":
        bodies = single_pages(story, setup, options.captions)
    else:
        bodies = worksheet_pages(story, setup, options.panels_per_page, title)
    width, height = setup.size_pt
    pages = [title_page(story, setup, title)] if options.title_page else []
    total = len(bodies) + len(pages)
    for items in bodies:
        number = len(pages) + 1
        numbered: list[PageItem] = [*items, *footer(setup, title, number, total)]
        pages.append(Page(width, height, tuple(numbered)))
    return pages


def export_pdf(
    store: ProjectStore,
    path: Path | str,
    options: PdfOptions | None = None,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Write the project as a PDF at ``path``; the file appears only when complete."""
    options = options or PdfOptions()
    target = check_output_file(path, (".pdf",))
    story = collect_story(store)
    pages = layout_pages(story, options)
    steps = Steps("PDF", len(pages), "pages", on_progress, is_cancelled)
    steps.check_cancel()
    with atomic_file(target) as temp:
        write_pdf(pages, store.media, temp, options.title.strip() or story.title, steps)
    return ExportResult(target, len(pages), "pages")


def preview_first_page(
    store: ProjectStore, options: PdfOptions | None = None, dpi: float = 72.0
) -> Image.Image:
    """The first page the PDF would have, as an image (the cover when there is one)."""
    return preview_page(store, options, 0, dpi)


def preview_page(
    store: ProjectStore, options: PdfOptions | None, index: int, dpi: float = 72.0
) -> Image.Image:
    """Page ``index`` (0-based, clamped to the last page) as an image at ``dpi``."""
    return preview_pages(store, options, index, dpi).image


@dataclass(frozen=True)
class PagePreview:
    """One page of the document as an image; ``index`` is 0-based, of ``count`` pages."""

    image: Image.Image
    index: int
    count: int


def preview_pages(
    store: ProjectStore, options: PdfOptions | None, index: int, dpi: float = 72.0
) -> PagePreview:
    """Page ``index`` (clamped to the document) as an image, with how many pages there are."""
    pages = layout_pages(collect_story(store), options or PdfOptions())
    index = min(max(index, 0), len(pages) - 1)
    return PagePreview(render_page(pages[index], store.media, dpi / 72.0), index, len(pages))
