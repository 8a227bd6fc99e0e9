"""Comic page layouts: a grid of rows of 2-3 panels, and four-panel strips.

Panels fill their frames (cropped at the edges, as comic panels are) and carry
their captions as speech balloons or narration boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from storyboard_app.export.layout_common import caption_balloon, content_rect
from storyboard_app.export.page_items import PageItem, PanelArt, Rect, Shape, rectangle
from storyboard_app.export.page_setup import PageSetup
from storyboard_app.export.story import ExportPanel, Story

AUTO_ROW_PATTERN = (2, 3)
STRIP_LENGTH = 4


def comic_pages(
    story: Story, setup: PageSetup, panels_per_row: int, captions: bool
) -> list[list[PageItem]]:
    """Rows of panels (alternating 2 and 3 when ``panels_per_row`` is 0), equal row heights."""
    area = content_rect(setup)
    gutter = setup.gutter_pt
    pattern = (panels_per_row,) if panels_per_row else AUTO_ROW_PATTERN
    rows = split_rows(story.panels, pattern)
    aspect = story.frame_size[0] / story.frame_size[1]
    natural = sum(cell_width(area.w, n, gutter) / aspect for n in pattern) / len(pattern)
    rows_per_page = max(1, round((area.h + gutter) / (natural + gutter)))
    row_height = (area.h - (rows_per_page - 1) * gutter) / rows_per_page
    pages = []
    for first in range(0, len(rows), rows_per_page):
        items: list[PageItem] = []
        for index, row in enumerate(rows[first : first + rows_per_page]):
            top = area.y + index * (row_height + gutter)
            items += row_items(row, Rect(area.x, top, area.w, row_height), gutter, captions)
        pages.append(items)
    return pages


def strip_pages(story: Story, setup: PageSetup, captions: bool) -> list[list[PageItem]]:
    """Strips of four panels side by side, as many strips per page as fit."""
    area = content_rect(setup)
    gutter = setup.gutter_pt
    aspect = story.frame_size[0] / story.frame_size[1]
    strip_height = min(cell_width(area.w, STRIP_LENGTH, gutter) / aspect, area.h)
    spacing = 3 * gutter
    per_page = max(1, math.floor((area.h + spacing) / (strip_height + spacing)))
    strips = split_rows(story.panels, (STRIP_LENGTH,))
    width = cell_width(area.w, STRIP_LENGTH, gutter)
    pages = []
    for first in range(0, len(strips), per_page):
        items: list[PageItem] = []
        for index, strip in enumerate(strips[first : first + per_page]):
            top = area.y + index * (strip_height + spacing)
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
            items += caption_balloon(frame, panel, max_size, min_size)
        items.append(Shape(rectangle(frame), line_width=1.2))
    return items
