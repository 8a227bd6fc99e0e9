"""Storyboard sheet layouts: one panel per page, and the worksheet with notes beside panels.

These show every panel whole (never cropped) with its number, shot, duration
and full caption, because they are read by directors and editors, not by
comic readers.
"""

from __future__ import annotations

from storyboard_app.export.fonts import text_width
from storyboard_app.export.layout_common import block_height, content_rect, text_block
from storyboard_app.export.page_items import (
    GREY,
    LIGHT_GREY,
    PageItem,
    PanelArt,
    Rect,
    Rule,
    Shape,
    TextLine,
    placed_rect,
    rectangle,
)
from storyboard_app.export.page_setup import PageSetup
from storyboard_app.export.story import ExportPanel, Story
from storyboard_app.export.text import fit_text
from storyboard_app.project.tags import expand_tags

HEADER_HEIGHT = 22.0
WRITING_LINE_SPACING = 14.0
LABEL_SIZE = 6.5


def single_pages(story: Story, setup: PageSetup, captions: bool) -> list[list[PageItem]]:
    """Each panel on its own page: a header, the picture as large as fits, then its text."""
    area = content_rect(setup)
    pages = []
    for panel in story.panels:
        items = panel_header(panel, Rect(area.x, area.y, area.w, HEADER_HEIGHT))
        has_text = captions and bool(
            panel.caption.strip() or panel.dialogue.strip() or panel.notes.strip()
        )
        text_height = area.h * 0.28 if has_text else 0.0
        image_box = Rect(area.x, area.y + HEADER_HEIGHT + 6, area.w, area.h - HEADER_HEIGHT - 6)
        image_box = Rect(image_box.x, image_box.y, image_box.w, image_box.h - text_height)
        placed = placed_rect(image_box, panel.image_size, "contain")
        frame = Rect(placed.x, image_box.y, placed.w, placed.h)
        items += [PanelArt(frame, panel), Shape(rectangle(frame), line_width=1.0)]
        if has_text:
            top = frame.bottom + 12
            items += panel_texts(panel, Rect(area.x, top, area.w, area.bottom - top), 16.0)
        pages.append(items)
    return pages


def panel_header(panel: ExportPanel, box: Rect) -> list[PageItem]:
    baseline = box.y + 14
    return [
        TextLine(box.x, baseline, panel.label, 14.0, bold=True),
        TextLine(box.right, baseline, panel_facts(panel), 10.0, align="right", color=GREY),
        Rule((box.x, box.bottom), (box.right, box.bottom)),
    ]


def panel_facts(panel: ExportPanel) -> str:
    """``close-up · 2.5 s · Mara``: the shot, the time on screen and who is in it."""
    facts = [panel.shot_type, f"{panel.duration:g} s", ", ".join(panel.characters)]
    return " · ".join(fact for fact in facts if fact)


def panel_texts(panel: ExportPanel, box: Rect, size: float) -> list[PageItem]:
    """The dialogue and narration, then the notes in grey below, each shrunk to its share."""
    items: list[PageItem] = []
    words = [panel.dialogue.strip(), panel.caption.strip()]
    caption, notes = "\n".join(w for w in words if w), panel.notes.strip()
    caption_height = box.h * (0.6 if notes else 1.0) if caption else 0.0
    if caption:
        fit = fit_text(caption, box.w, caption_height, size, 7.0)
        items += text_block(fit, box.x, box.y)
        caption_height = block_height(fit) + 8
    if notes:
        fit = fit_text(f"Notes: {notes}", box.w, box.h - caption_height, size * 0.7, 6.0)
        items += text_block(fit, box.x, box.y + caption_height, color=GREY)
    return items


def worksheet_pages(
    story: Story, setup: PageSetup, per_page: int, title: str
) -> list[list[PageItem]]:
    """``per_page`` rows per page: the panel on the left; number, action, dialogue, notes right."""
    area = content_rect(setup)
    gutter = max(setup.gutter_pt, 6.0)
    body_top = area.y + HEADER_HEIGHT + gutter
    row_height = (area.bottom - body_top - (per_page - 1) * gutter) / per_page
    aspect = story.frame_size[0] / story.frame_size[1]
    image_width = min(area.w * 0.55, row_height * aspect)
    pages = []
    for first in range(0, len(story.panels), per_page):
        items = worksheet_header(Rect(area.x, area.y, area.w, HEADER_HEIGHT), title)
        for index, panel in enumerate(story.panels[first : first + per_page]):
            top = body_top + index * (row_height + gutter)
            row = Rect(area.x, top, area.w, row_height)
            items += worksheet_row(panel, row, image_width, gutter)
            if index:
                items.append(Rule((area.x, top - gutter / 2), (area.right, top - gutter / 2)))
        pages.append(items)
    return pages


def worksheet_header(box: Rect, title: str) -> list[PageItem]:
    baseline = box.y + 13
    return [
        TextLine(box.x, baseline, title, 12.0, bold=True),
        TextLine(box.right, baseline, "Storyboard worksheet", 9.0, align="right", color=GREY),
        Rule((box.x, box.bottom), (box.right, box.bottom), color="#000000", line_width=0.8),
    ]


def worksheet_row(
    panel: ExportPanel, row: Rect, image_width: float, gutter: float
) -> list[PageItem]:
    placed = placed_rect(Rect(row.x, row.y, image_width, row.h), panel.image_size, "contain")
    frame = Rect(row.x, row.y, placed.w, placed.h)
    items: list[PageItem] = [PanelArt(frame, panel), Shape(rectangle(frame), line_width=1.0)]
    column = Rect(row.x + image_width + gutter, row.y, row.w - image_width - gutter, row.h)
    number = str(panel.number)
    items.append(TextLine(column.x, column.y + 14, number, 16.0, bold=True))
    facts_x = column.x + text_width(number, 16.0, bold=True) + 8
    items.append(TextLine(facts_x, column.y + 13, panel_facts(panel), 8.5, color=GREY))
    fields = Rect(column.x, column.y + 24, column.w, column.h - 24)
    return items + worksheet_fields(panel, fields)


def worksheet_fields(panel: ExportPanel, box: Rect) -> list[PageItem]:
    """Action, dialogue and notes, each under a small label; empty notes get writing lines."""
    fields = (
        ("Action", expand_tags(panel.prompt, {}), 0.3),
        ("Dialogue", panel.dialogue, 0.22),
        ("Narration", panel.caption, 0.16),
        ("Notes", panel.notes, 0.32),
    )
    items: list[PageItem] = []
    top = box.y
    for label, text, share in fields:
        field = Rect(box.x, top, box.w, box.h * share)
        items += labelled_text(label, text.strip(), field)
        top = field.bottom
    if not panel.notes.strip():
        items += writing_lines(Rect(box.x, field.y + LABEL_SIZE + 2, box.w, field.h - LABEL_SIZE))
    return items


def labelled_text(label: str, text: str, box: Rect) -> list[PageItem]:
    items: list[PageItem] = [
        TextLine(box.x, box.y + LABEL_SIZE, label, LABEL_SIZE, True, color=GREY)
    ]
    if text:
        fit = fit_text(text, box.w, box.h - LABEL_SIZE - 4, 9.5, 6.0)
        items += text_block(fit, box.x, box.y + LABEL_SIZE + 2)
    return items


def writing_lines(box: Rect) -> list[PageItem]:
    """Ruled lines for handwritten notes, like a printed storyboard sheet."""
    lines: list[PageItem] = []
    y = box.y + WRITING_LINE_SPACING
    while y <= box.bottom:
        lines.append(Rule((box.x, y), (box.right, y), color=LIGHT_GREY, line_width=0.4))
        y += WRITING_LINE_SPACING
    return lines
