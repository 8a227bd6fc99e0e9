"""Paper: size, orientation, margins and gutters, in millimetres; layouts work in points."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from storyboard_app.export.errors import ExportOptionsError

POINTS_PER_MM = 72 / 25.4
PAPER_SIZES_MM: dict[str, tuple[float, float]] = {
    "a3": (297.0, 420.0),
    "a4": (210.0, 297.0),
    "a5": (148.0, 210.0),
    "letter": (215.9, 279.4),
    "legal": (215.9, 355.6),
    "tabloid": (279.4, 431.8),
}
# Where paper is US Letter rather than A4 (glibc's LC_PAPER, by territory).
LETTER_TERRITORIES = frozenset(
    {"US", "CA", "MX", "PH", "PR", "CL", "CO", "VE", "CR", "GT", "PA", "SV", "NI", "DO", "BZ"}
)
LOCALE_NAME = re.compile(r"^[A-Za-z]{2,3}[_-]([A-Za-z]{2})\b")
PAPER_VARIABLES = ("LC_ALL", "LC_PAPER", "LANG")
CUSTOM_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x\s*(\d+(?:\.\d+)?)\s*(mm|cm|in)\s*$", re.I)
UNIT_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4}
MIN_CONTENT_MM = 40.0
MAX_PAGE_MM = 5000.0


@dataclass(frozen=True)
class PageSetup:
    """A sheet of paper; ``landscape`` turns it so that it is wider than tall."""

    size_mm: tuple[float, float] = PAPER_SIZES_MM["a4"]
    landscape: bool = False
    margin_mm: float = 12.0
    gutter_mm: float = 4.0

    def __post_init__(self) -> None:
        width, height = self.size_mm
        if not (0 < width <= MAX_PAGE_MM and 0 < height <= MAX_PAGE_MM):
            raise ExportOptionsError(
                f"A page of {width:g} x {height:g} mm is not usable.",
                f"Use a page size between 1 and {MAX_PAGE_MM:g} mm a side, e.g. a4 or 210x297mm.",
            )
        if not (math.isfinite(self.margin_mm) and math.isfinite(self.gutter_mm)):
            raise ExportOptionsError(
                f"A margin of {self.margin_mm} mm or a gutter of {self.gutter_mm} mm is not a "
                "length.",
                "Give margins and gutters as plain numbers of millimetres, e.g. 12.",
            )
        if self.margin_mm < 0 or self.gutter_mm < 0:
            raise ExportOptionsError("Margins and gutters cannot be negative.", "Use 0 mm or more.")
        room = min(width, height) - 2 * self.margin_mm
        if room < MIN_CONTENT_MM:
            raise ExportOptionsError(
                f"Margins of {self.margin_mm:g} mm leave only {max(room, 0):g} mm for panels on a "
                f"{width:g} x {height:g} mm page.",
                f"Use smaller margins or a larger page; {MIN_CONTENT_MM:g} mm must remain.",
            )
        if self.gutter_mm > room / 4:
            raise ExportOptionsError(
                f"A gutter of {self.gutter_mm:g} mm is too wide for this page.",
                f"Use a gutter of at most {room / 4:g} mm.",
            )

    @property
    def size_pt(self) -> tuple[float, float]:
        """Width and height in points, turned for landscape."""
        width, height = (v * POINTS_PER_MM for v in self.size_mm)
        if self.landscape and height > width:
            return height, width
        return width, height

    @property
    def margin_pt(self) -> float:
        return self.margin_mm * POINTS_PER_MM

    @property
    def gutter_pt(self) -> float:
        return self.gutter_mm * POINTS_PER_MM


def parse_page_size(text: str) -> tuple[float, float]:
    """``a4``, ``letter`` (see :data:`PAPER_SIZES_MM`) or ``WxH`` with mm, cm or in, in mm."""
    named = PAPER_SIZES_MM.get(text.strip().lower())
    if named is not None:
        return named
    match = CUSTOM_SIZE.match(text)
    if match is None:
        raise ExportOptionsError(
            f"{text!r} is not a page size.",
            "Use " + ", ".join(PAPER_SIZES_MM) + ", or WIDTHxHEIGHT with a unit, e.g. 200x150mm "
            "or 8.5x11in.",
        )
    factor = UNIT_MM[match.group(3).lower()]
    return float(match.group(1)) * factor, float(match.group(2)) * factor


def paper_for_locale(name: str) -> str:
    """``letter`` for a locale of a Letter territory (``en_US``, ``fr_CA.UTF-8``), else ``a4``."""
    match = LOCALE_NAME.match(name.strip())
    return "letter" if match and match.group(1).upper() in LETTER_TERRITORIES else "a4"


def default_paper(environ: Mapping[str, str] | None = None) -> str:
    """The paper of this computer's locale, read as the C library does (``LC_ALL``, then
    ``LC_PAPER``, then ``LANG``); A4 where none is set."""
    environ = os.environ if environ is None else environ
    name = next((environ[key] for key in PAPER_VARIABLES if environ.get(key)), "")
    return paper_for_locale(name)
