"""The bundled caption font, for reportlab (PDF text) and Pillow (pictures and previews).

Both read the same TrueType files from ``resources/fonts``, so a PDF page, its
preview and burnt-in video captions use identical letter shapes and widths.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from storyboard_app.export.errors import ExportError
from storyboard_app.project.bundled import resources_dir

REGULAR = "StoryboardSans"
BOLD = "StoryboardSans-Bold"
FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


def font_path(name: str) -> Path:
    path = resources_dir() / "fonts" / FONT_FILES[name]
    if not path.is_file():
        raise ExportError(
            f"The bundled font {path.name} is missing from {path.parent}.",
            "Reinstall Storyboard; its resources folder is incomplete.",
        )
    return path


@cache
def register_pdf_fonts() -> None:
    """Make the bundled faces available to reportlab under :data:`REGULAR` and :data:`BOLD`."""
    for name in FONT_FILES:
        pdfmetrics.registerFont(TTFont(name, str(font_path(name))))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points at ``size`` points, from the font's own metrics."""
    register_pdf_fonts()
    return pdfmetrics.stringWidth(text, BOLD if bold else REGULAR, size)


def ascent(size: float, bold: bool = False) -> float:
    """Height above the baseline of the font's tallest letters at ``size`` points."""
    register_pdf_fonts()
    return pdfmetrics.getAscentDescent(BOLD if bold else REGULAR, size)[0]


def pil_font(size_px: float, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The bundled face at ``size_px`` pixels for drawing on images.

    Fractional sizes are kept (to a tenth of a pixel) so that small text in a
    preview is as wide as the layout measured it.
    """
    return _pil_font(max(1.0, round(size_px, 1)), bold)


@cache
def _pil_font(size_px: float, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(BOLD if bold else REGULAR)), size_px)
