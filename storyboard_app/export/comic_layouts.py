"""Comic page layouts: a grid of rows of 2-3 panels, and four-panel strips.

Panels fill their frames (cropped at the edges, as comic panels are) and carry
their narration in caption boxes and their dialogue in speech balloons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from storyboard_app.export.layout_common import content_rect
from storyboard_app.export.lettering import panel_lettering
from storyboard_app.export.page_items import PageItem, PanelArt, Rect, Shape, rectangle
from storyboard_app.export.page_setup import PageSetup
from storyboard_app.export.story import ExportPanel, Story

AUTO_ROW_PATTERN = (2, 3)
STRIP_LENGTH = 4
MAX_PER_ROW = 4
MAX_STRETCH = 1.5  # how much taller than the pictures' shape a row of the last page may grow


def comic_pages(
    story: Story, setup: PageSetup, panels_per_row: int, captions: bool
) -> list[list[PageItem]]:
    """Rows of panels (alternating 2 and 3 when ``panels_per_row`` is 0) filling each page.

    Full pages take as many rows as fit at about the pictures' own shape; the
    last page, when it has fewer, is laid out again so that it still fills the
    page: with the automatic pattern its panels are shared among the number of
    rows that crops them least, with a fixed count its rows grow (up to
    :data:`MAX_STRETCH`) and spread over the page.
    """
    area = content_rect(setup)
    gutter = setup.gutter_pt
    pattern = (panels_per_row,) if panels_per_row else AUTO_ROW_PATTERN
    rows = split_rows(story.panels, pattern)
    aspect = story.frame_size[0] / story.frame_size[1]
    natural = sum(cell_width(area.w, n, gutter) / aspect for n in pattern) / len(pattern)
    rows_per_page = max(1, round((area.h + gutter) / (natural + gutter)))
    pages = [rows[first : first + rows_per_page] for first in range(0, len(rows), rows_per_page)]
    if not panels_per_row and pages and len(pages[-1]) < rows_per_page:
        last = [panel for row in pages[-1] for panel in row]
        pages[-1] = least_cropped_rows(last, area, gutter, aspect, rows_per_page)
    return [page_rows(page, area, gutter, captions, aspect) for page in pages]


def least_cropped_rows(
    panels: Sequence[ExportPanel], area: Rect, gutter: float, aspect: float, most: int
) -> list[tuple[ExportPanel, ...]]:
    """``panels`` in rows of equal height filling ``area``: of the even splits into 1 to
    ``most`` rows, the one whose cells are closest to the pictures' shape."""

    def cost(counts: list[int]) -> float:
        height = (area.h - (len(counts) - 1) * gutter) / len(counts)
        return sum(
            n * abs(math.log(cell_width(area.w, n, gutter) / height / aspect)) for n in counts
        )

    splits = [even_counts(len(panels), rows) for rows in range(1, min(most, len(panels)) + 1)]
    splits = [counts for counts in splits if max(counts) <= MAX_PER_ROW]
    best = min(splits or [even_counts(len(panels), len(panels))], key=cost)
    rows, start = [], 0
    for count in best:
        rows.append(tuple(panels[start : start + count]))
        start += count
    return rows


def even_counts(total: int, rows: int) -> list[int]:
    """``total`` panels over ``rows`` rows, the fuller rows first (``[3, 3, 2, 2]``)."""
    return [total // rows + (1 if index < total % rows else 0) for index in range(rows)]


def page_rows(
    rows: Sequence[tuple[ExportPanel, ...]],
    area: Rect,
    gutter: float,
    captions: bool,
    aspect: float,
) -> list[PageItem]:
    """Rows of equal height from the top to the bottom of ``area``. Rows that would grow
    beyond :data:`MAX_STRETCH` of the pictures' shape keep that height instead and spread
    over the page (a single one is centred), rather than crop a picture to a sliver."""
    count = len(rows)
    height = (area.h - (count - 1) * gutter) / count
    natural = sum(cell_width(area.w, len(row), gutter) / aspect for row in rows) / count
    spacing, top = gutter, area.y
    if height > natural * MAX_STRETCH:
        height = natural * MAX_STRETCH
        spacing = (area.h - count * height) / (count - 1) if count > 1 else 0.0
        top += (area.h - height) / 2 if count == 1 else 0.0
    items: list[PageItem] = []
    for index, row in enumerate(rows):
        row_top = top + index * (height + spacing)
        items += row_items(row, Rect(area.x, row_top, area.w, height), gutter, captions)
    return items


def strip_pages(story: Story, setup: PageSetup, captions: bool) -> list[list[PageItem]]:
    """Strips of four panels side by side, shared evenly among the pages and spread over
    each page's height, so that no page ends in an empty band."""
    area = content_rect(setup)
    gutter = setup.gutter_pt
    aspect = story.frame_size[0] / story.frame_size[1]
    strip_height = min(cell_width(area.w, STRIP_LENGTH, gutter) / aspect, area.h)
    spacing = 3 * gutter
    per_page = max(1, math.floor((area.h + spacing) / (strip_height + spacing)))
    strips = split_rows(story.panels, (STRIP_LENGTH,))
    page_count = math.ceil(len(strips) / per_page)
    width = cell_width(area.w, STRIP_LENGTH, gutter)
    pages = []
    start = 0
    for count in even_counts(len(strips), page_count):
        on_page = strips[start : start + count]
        start += count
        gap = (area.h - count * strip_height) / (count - 1) if count > 1 else 0.0
        items: list[PageItem] = []
        for index, strip in enumerate(on_page):
            top = area.y + index * (strip_height + gap)
            row = Rect(area.x, top, area.w, strip_height)
            items += row_items(strip, row, gutter, captions, width, max_size=8.0, min_size=5.5)
        pages.append(items)
    return pages


def split_rows(
    panels: Sequence[ExportPanel], pattern: Sequence[int]
) -> list[tuple[ExportPanel, ...]]:
    rows = []
    start = 0
    while start < len(panels):
        count = pattern[len(rows) % len(pattern)]
        rows.append(tuple(panels[start : start + count]))
        start += count
    return rows


def cell_width(total: float, count: int, gutter: float) -> float:
    return (total - (count - 1) * gutter) / count


def row_items(
    row: Sequence[ExportPanel],
    box: Rect,
    gutter: float,
    captions: bool,
    width: float | None = None,
    max_size: float = 10.0,
    min_size: float = 6.0,
) -> list[PageItem]:
    """The panels of one row side by side in ``box``, each framed, with its caption.

    Without a ``width`` the panels share the row; a short last strip passes the
    full strip's panel width instead, so its panels keep their size.
    """
    width = width or cell_width(box.w, len(row), gutter)
    items: list[PageItem] = []
    for index, panel in enumerate(row):
        frame = Rect(box.x + index * (width + gutter), box.y, width, box.h)
        items.append(PanelArt(frame, panel, fit="cover"))
        if captions:
            items += panel_lettering(frame, panel, max_size, min_size)
        items.append(Shape(rectangle(frame), line_width=1.2))
    return items
