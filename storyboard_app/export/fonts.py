"""The bundled fonts, for reportlab (PDF text) and Pillow (pictures and previews).

Both read the same TrueType files from ``resources/fonts``, so a PDF page, its
preview and burnt-in video captions use identical letter shapes and widths.
DejaVu Sans sets Latin, Greek and Cyrillic; a letter it lacks is set in the
bundled fallbacks, a Noto Sans CJK subset (Chinese, Japanese, Korean) and Noto
Emoji, so captions and balloons in those scripts render and stay real,
extractable text. A line becomes runs of one face each (:func:`font_runs`),
measured and drawn run by run by both backends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

from storyboard_app.export.errors import ExportError
from storyboard_app.project.bundled import resources_dir

REGULAR = "StoryboardSans"
BOLD = "StoryboardSans-Bold"
CJK = "StoryboardFallbackCJK"
EMOJI = "StoryboardFallbackEmoji"
FONT_FILES = {
    REGULAR: "DejaVuSans.ttf",
    BOLD: "DejaVuSans-Bold.ttf",
    CJK: "StoryboardFallbackCJK.ttf",
    EMOJI: "StoryboardFallbackEmoji.ttf",
}
FALLBACKS = (CJK, EMOJI)
# Joiners and emoji/text selectors: kept with the letter before them when its face has
# them, otherwise left out (they draw nothing by themselves).
JOINERS = frozenset("\u200d\ufe0e\ufe0f")
EMOJI_STYLE = "\ufe0f"
# How much of a line's width lies left of its x: by align name or Pillow anchor letter.
_LEFT_SHARE = {"left": 0.0, "center": 0.5, "right": 1.0, "l": 0.0, "m": 0.5, "r": 1.0}


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
    """Make the bundled faces available to reportlab under their names above."""
    if ttfonts.makeToUnicodeCMap is not _to_unicode_cmap:
        _reportlab_cmap.append(ttfonts.makeToUnicodeCMap)
        ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    for name in FONT_FILES:
        pdfmetrics.registerFont(TTFont(name, str(font_path(name))))


_reportlab_cmap: list[Callable[[str, list[int]], str]] = []
_LONG_CODE = re.compile(r"<([0-9A-F]{2})> <([0-9A-F]{5,6})>")


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ToUnicode map of a font subset, with characters beyond U+FFFF (emoji)
    written as the UTF-16 surrogate pairs PDF readers expect.

    reportlab 4-5 writes them as five hex digits, which pdftotext and pypdf
    reject, so emoji drew but could not be copied or searched.
    """

    def utf16(match: re.Match[str]) -> str:
        pair = chr(int(match.group(2), 16)).encode("utf-16-be").hex().upper()
        return f"<{match.group(1)}> <{pair}>"

    return _LONG_CODE.sub(utf16, _reportlab_cmap[0](fontname, subset))


@cache
def coverage(name: str) -> frozenset[int]:
    """The code points face ``name`` has a glyph for."""
    register_pdf_fonts()
    return frozenset(pdfmetrics.getFont(name).face.charToGlyph)


def face_for(letter: str, primary: str) -> str:
    """The first face with a glyph for ``letter``: the primary, then the fallbacks (and the
    primary again when none has it, which shows its missing-glyph box)."""
    code = ord(letter)
    if code in coverage(primary) or letter.isspace():
        return primary
    return next((name for name in FALLBACKS if code in coverage(name)), primary)


@lru_cache(maxsize=8192)
def font_runs(text: str, bold: bool = False) -> tuple[tuple[str, str], ...]:
    """``text`` as ``(face, text)`` runs, each set in one face."""
    primary = BOLD if bold else REGULAR
    runs: list[tuple[str, str]] = []
    for index, letter in enumerate(text):
        if letter in JOINERS:
            if runs and ord(letter) in coverage(runs[-1][0]):
                runs[-1] = (runs[-1][0], runs[-1][1] + letter)
            continue
        name = face_for(letter, primary)
        if text[index + 1 : index + 2] == EMOJI_STYLE and ord(letter) in coverage(EMOJI):
            name = EMOJI  # "❤️": the emoji, not the text heart the primary face has
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + letter)
        else:
            runs.append((name, letter))
    return tuple(runs)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points at ``size`` points, from the fonts' own metrics."""
    register_pdf_fonts()
    return sum(pdfmetrics.stringWidth(part, name, size) for name, part in font_runs(text, bold))


def ascent(size: float, bold: bool = False) -> float:
    """Height above the baseline of the font's tallest letters at ``size`` points."""
    register_pdf_fonts()
    return pdfmetrics.getAscentDescent(BOLD if bold else REGULAR, size)[0]


def place_runs(
    text: str,
    x: float,
    align: str,
    bold: bool,
    width_of: Callable[[str, str], float],
) -> list[tuple[float, str, str]]:
    """``(x, face, text)`` for each run of a line aligned ``left``, ``center`` or ``right``
    of ``x``, measured by ``width_of(face, text)`` (reportlab's or Pillow's metrics)."""
    runs = font_runs(text, bold)
    widths = [width_of(name, part) for name, part in runs]
    left = x - sum(widths) * _LEFT_SHARE.get(align, 0.0)
    placed = []
    for (name, part), width in zip(runs, widths, strict=True):
        placed.append((left, name, part))
        left += width
    return placed


def pil_font(size_px: float, bold: bool = False, name: str | None = None) -> ImageFont.FreeTypeFont:
    """A bundled face (the regular or bold one unless ``name``) at ``size_px`` pixels.

    Fractional sizes are kept (to a tenth of a pixel) so that small text in a
    preview is as wide as the layout measured it.
    """
    return _pil_font(max(1.0, round(size_px, 1)), name or (BOLD if bold else REGULAR))


@cache
def _pil_font(size_px: float, name: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size_px)


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size_px: float,
    fill: str,
    *,
    bold: bool = False,
    anchor: str = "ls",
) -> None:
    """Pillow's ``draw.text`` with the fallback faces: ``anchor`` as Pillow's (``ls``,
    ``ms``, ``rs``, ``mm``...), applied to the whole line."""

    def width(name: str, part: str) -> float:
        return pil_font(size_px, name=name).getlength(part)

    for x, name, part in place_runs(text, xy[0], anchor[0], bold, width):
        font = pil_font(size_px, name=name)
        draw.text((x, xy[1]), part, font=font, fill=fill, anchor="l" + anchor[1])
