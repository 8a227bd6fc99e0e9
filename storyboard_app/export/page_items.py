"""A laid-out page as plain items: what goes where, decided once for every backend.

Layouts produce :class:`Page` objects in points with the origin at the top-left
corner; the PDF writer and the Pillow preview only draw them. Text arrives
already broken into lines, so both show the same words on the same lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storyboard_app.export.story import ExportPanel

BLACK = "#000000"
GREY = "#666666"
LIGHT_GREY = "#bbbbbb"
WHITE = "#ffffff"
NARRATION_FILL = "#fff4c4"
CORNER_SEGMENTS = 6


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def inset(self, dx: float, dy: float | None = None) -> Rect:
        dy = dx if dy is None else dy
        return Rect(self.x + dx, self.y + dy, max(0.0, self.w - 2 * dx), max(0.0, self.h - 2 * dy))


@dataclass(frozen=True)
class PanelArt:
    """A panel's picture in ``frame``: ``cover`` fills and crops, ``contain`` shows it whole."""

    frame: Rect
    panel: ExportPanel
    fit: str = "cover"

    @property
    def placed(self) -> Rect:
        """Where the whole image goes; outside ``frame`` it is clipped away."""
        return placed_rect(self.frame, self.panel.image_size, self.fit)


@dataclass(frozen=True)
class TextLine:
    """One line of text; ``y`` is its baseline, ``align`` is left, center or right of ``x``."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    align: str = "left"
    color: str = BLACK


@dataclass(frozen=True)
class Shape:
    """A closed outline (frame, speech balloon, caption box) with optional fill."""

    points: tuple[tuple[float, float], ...]
    stroke: str | None = BLACK
    fill: str | None = None
    line_width: float = 0.8


@dataclass(frozen=True)
class Rule:
    """A straight line, e.g. under a header or a writing line on a worksheet."""

    start: tuple[float, float]
    end: tuple[float, float]
    color: str = LIGHT_GREY
    line_width: float = 0.5


PageItem = PanelArt | TextLine | Shape | Rule


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    items: tuple[PageItem, ...]


def placed_rect(frame: Rect, image_size: tuple[int, int], fit: str) -> Rect:
    """The image's rectangle when scaled to cover or fit inside ``frame``, centred."""
    width, height = image_size
    scale_w, scale_h = frame.w / width, frame.h / height
    scale = max(scale_w, scale_h) if fit == "cover" else min(scale_w, scale_h)
    w, h = width * scale, height * scale
    return Rect(frame.x + (frame.w - w) / 2, frame.y + (frame.h - h) / 2, w, h)


def rectangle(rect: Rect) -> tuple[tuple[float, float], ...]:
    return (
        (rect.x, rect.y),
        (rect.right, rect.y),
        (rect.right, rect.bottom),
        (rect.x, rect.bottom),
    )


def balloon_outline(
    rect: Rect, radius: float, tail: tuple[float, float] | None
) -> tuple[tuple[float, float], ...]:
    """A rounded rectangle, with a tail from its bottom edge to ``tail`` if given.

    A polygon (corners as short segments) draws identically in reportlab and Pillow.
    """
    radius = min(radius, rect.w / 2, rect.h / 2)
    corners = [
        (rect.right - radius, rect.y + radius, -90.0),
        (rect.right - radius, rect.bottom - radius, 0.0),
        (rect.x + radius, rect.bottom - radius, 90.0),
        (rect.x + radius, rect.y + radius, 180.0),
    ]
    points: list[tuple[float, float]] = []
    for index, (cx, cy, start) in enumerate(corners):
        for step in range(CORNER_SEGMENTS + 1):
            angle = math.radians(start + 90.0 * step / CORNER_SEGMENTS)
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        if index == 1 and tail is not None:
            points.extend(tail_points(rect, radius, tail))
    return tuple(points)


def tail_points(rect: Rect, radius: float, tail: tuple[float, float]) -> list[tuple[float, float]]:
    """The tail's base on the bottom edge (drawn right to left) and its tip."""
    half_base = min(rect.w / 8, max(4.0, rect.w / 14))
    centre = min(max(tail[0], rect.x + radius + half_base), rect.right - radius - half_base)
    return [(centre + half_base, rect.bottom), tail, (centre - half_base, rect.bottom)]
