"""Drawing laid-out pages into a PDF with reportlab.

Text is set in the embedded bundled font, so it is selectable and searchable;
pictures are embedded from the project's media files at their own resolution
and clipped to their frames (the PDF keeps every pixel; the frame decides what
shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from storyboard_app import __version__
from storyboard_app.export.fonts import REGULAR, place_runs, register_pdf_fonts, text_width
from storyboard_app.export.page_items import (
    Page,
    PageItem,
    PanelArt,
    Rect,
    Rule,
    Shape,
    TextLine,
)
from storyboard_app.export.pictures import PLACEHOLDER_FILL, PLACEHOLDER_LINES, PLACEHOLDER_TEXT
from storyboard_app.export.progress import Steps
from storyboard_app.project.media import MediaStore


def write_pdf(pages: list[Page], media: MediaStore, path: Path, title: str, steps: Steps) -> None:
    """Draw ``pages`` into a PDF file at ``path``, one progress step per page."""
    register_pdf_fonts()
    with binary_streams():
        draw_document(pages, media, path, title, steps)


@contextmanager
def binary_streams() -> Iterator[None]:
    """Write streams as compressed binary instead of ASCII85 text.

    reportlab's ASCII85 encoder is pure Python here: it took 1.5 s per 512 px
    image, 90 % of the export, and made the file a quarter larger. The setting
    is global in reportlab, so it is restored afterwards.
    """
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


def draw_document(
    pages: list[Page], media: MediaStore, path: Path, title: str, steps: Steps
) -> None:
    canvas = Canvas(
        str(path),
        pagesize=(pages[0].width, pages[0].height),
        pageCompression=1,
        initialFontName=REGULAR,
    )
    canvas.setTitle(title)
    canvas.setSubject("Storyboard")
    canvas.setCreator(f"Storyboard {__version__}")
    for page in pages:
        steps.check_cancel()
        canvas.setPageSize((page.width, page.height))
        PageDrawer(canvas, media, page.height).draw(page.items)
        canvas.showPage()
        steps.advance()
    canvas.save()


class PageDrawer:
    """Draws page items on one reportlab page, flipping y to its bottom-left origin."""

    def __init__(self, canvas: Canvas, media: MediaStore, page_height: float) -> None:
        self.canvas = canvas
        self.media = media
        self.page_height = page_height

    def draw(self, items: tuple[PageItem, ...]) -> None:
        for item in items:
            if isinstance(item, PanelArt):
                self.panel_art(item)
            elif isinstance(item, TextLine):
                self.text_line(item)
            elif isinstance(item, Shape):
                self.shape(item)
            else:
                self.rule(item)

    def y(self, top_down: float) -> float:
        return self.page_height - top_down

    def panel_art(self, art: PanelArt) -> None:
        if art.panel.media is None:
            self.placeholder(art.frame, art.panel.label, art.panel.problem)
            return
        canvas, placed = self.canvas, art.placed
        canvas.saveState()
        clip = canvas.beginPath()
        clip.rect(art.frame.x, self.y(art.frame.bottom), art.frame.w, art.frame.h)
        canvas.clipPath(clip, stroke=0, fill=0)
        canvas.drawImage(
            str(self.media.path(art.panel.media)),
            placed.x,
            self.y(placed.bottom),
            placed.w,
            placed.h,
            mask="auto",
        )
        canvas.restoreState()

    def placeholder(self, frame: Rect, title: str, reason: str) -> None:
        """A grey frame crossed corner to corner with the panel's number and state as text."""
        canvas = self.canvas
        bottom = self.y(frame.bottom)
        canvas.saveState()
        canvas.setFillColor(HexColor(PLACEHOLDER_FILL))
        canvas.setStrokeColor(HexColor(PLACEHOLDER_LINES))
        canvas.rect(frame.x, bottom, frame.w, frame.h, stroke=0, fill=1)
        canvas.line(frame.x, bottom, frame.right, bottom + frame.h)
        canvas.line(frame.x, bottom + frame.h, frame.right, bottom)
        size = min(max(min(frame.w, frame.h) / 9, 6.0), 28.0)
        centre_x, centre_y = frame.x + frame.w / 2, bottom + frame.h / 2
        half = max(text_width(title, size, bold=True), text_width(reason, size * 0.6)) / 2
        pad = size / 4
        canvas.setFillColor(HexColor(PLACEHOLDER_FILL))
        backing_bottom = centre_y - size * 1.05 - pad
        canvas.rect(
            centre_x - half - pad,
            backing_bottom,
            2 * (half + pad),
            centre_y + size * 0.95 + pad - backing_bottom,
            stroke=0,
            fill=1,
        )
        canvas.setFillColor(HexColor(PLACEHOLDER_TEXT))
        self.runs(centre_x, centre_y + size * 0.15, title, size, "center", bold=True)
        self.runs(centre_x, centre_y - size * 0.75, reason, size * 0.6, "center")
        canvas.restoreState()

    def text_line(self, line: TextLine) -> None:
        self.canvas.setFillColor(HexColor(line.color))
        self.runs(line.x, self.y(line.y), line.text, line.size, line.align, line.bold)

    def runs(
        self, x: float, y: float, text: str, size: float, align: str, bold: bool = False
    ) -> None:
        """One line, each run in its face (the fallbacks for CJK and emoji); ``y`` is the
        baseline in reportlab's coordinates."""
        canvas = self.canvas
        for left, name, part in place_runs(
            text, x, align, bold, lambda face, piece: stringWidth(piece, face, size)
        ):
            canvas.setFont(name, size)
            canvas.drawString(left, y, part)

    def shape(self, shape: Shape) -> None:
        canvas = self.canvas
        path = canvas.beginPath()
        first, *rest = shape.points
        path.moveTo(first[0], self.y(first[1]))
        for x, y in rest:
            path.lineTo(x, self.y(y))
        path.close()
        canvas.saveState()
        canvas.setLineWidth(shape.line_width)
        canvas.setLineJoin(1)
        if shape.fill:
            canvas.setFillColor(HexColor(shape.fill))
        if shape.stroke:
            canvas.setStrokeColor(HexColor(shape.stroke))
        canvas.drawPath(path, stroke=1 if shape.stroke else 0, fill=1 if shape.fill else 0)
        canvas.restoreState()

    def rule(self, rule: Rule) -> None:
        canvas = self.canvas
        canvas.saveState()
        canvas.setStrokeColor(HexColor(rule.color))
        canvas.setLineWidth(rule.line_width)
        canvas.line(rule.start[0], self.y(rule.start[1]), rule.end[0], self.y(rule.end[1]))
        canvas.restoreState()
