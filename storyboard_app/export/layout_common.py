"""Pieces every page layout shares: the content area, text blocks, footers, the title page."""

from __future__ import annotations

import datetime

from storyboard_app import __version__
from storyboard_app.export.fonts import ascent
from storyboard_app.export.page_items import (
    GREY,
    Page,
    PageItem,
    Rect,
    TextLine,
)
from storyboard_app.export.page_setup import PageSetup
from storyboard_app.export.story import Story
from storyboard_app.export.text import TextFit, fit_text
from storyboard_app.project.grammar import plural

MIN_FOOTER_MARGIN = 14.0


def content_rect(setup: PageSetup) -> Rect:
    width, height = setup.size_pt
    margin = setup.margin_pt
    return Rect(margin, margin, width - 2 * margin, height - 2 * margin)


def text_block(
    fit: TextFit,
    x: float,
    top: float,
    *,
    align: str = "left",
    bold: bool = False,
    color: str = "#000000",
) -> list[TextLine]:
    """The lines of ``fit`` placed from ``top`` down; ``x`` is the left, centre or right edge."""
    first = top + ascent(fit.size, bold)
    return [
        TextLine(x, first + index * fit.leading, line, fit.size, bold, align, color)
        for index, line in enumerate(fit.lines)
    ]


def block_height(fit: TextFit, bold: bool = False) -> float:
    """From the top of the first line to just below the last line's baseline."""
    if not fit.lines:
        return 0.0
    return ascent(fit.size, bold) + (len(fit.lines) - 1) * fit.leading + fit.size * 0.25


def footer(setup: PageSetup, title: str, number: int, total: int) -> list[PageItem]:
    """``Title — 3 / 12`` centred in the bottom margin, when the margin has room for it."""
    width, height = setup.size_pt
    margin = setup.margin_pt
    if margin < MIN_FOOTER_MARGIN:
        return []
    size = min(8.0, margin * 0.4)
    text = f"{title} — {number} / {total}"
    return [
        TextLine(width / 2, height - margin / 2 + size / 3, text, size, align="center", color=GREY)
    ]


def title_page(story: Story, setup: PageSetup, title: str) -> Page:
    """The cover: the title large, the length of the story, and who is in it."""
    area = content_rect(setup)
    width, height = setup.size_pt
    items: list[PageItem] = []
    top = area.y + area.h * 0.22
    title_fit = fit_text(title, area.w, area.h * 0.25, 34.0, 14.0, bold=True)
    items += text_block(title_fit, width / 2, top, align="center", bold=True)
    top += block_height(title_fit, bold=True) + 18
    summary = (
        f"{plural(len(story.panels), 'panel')} · {format_duration(story.duration)} running time"
    )
    items.append(TextLine(width / 2, top + 12, summary, 12.0, align="center", color=GREY))
    top += 48
    if story.characters:
        items += cast_list(
            story, Rect(area.x + area.w * 0.1, top, area.w * 0.8, area.bottom - top - 40)
        )
    stamp = f"Exported {datetime.date.today().isoformat()} with Storyboard {__version__}"
    items.append(TextLine(width / 2, area.bottom - 4, stamp, 8.0, align="center", color=GREY))
    return Page(width, height, tuple(items))


def cast_list(story: Story, box: Rect) -> list[PageItem]:
    items: list[PageItem] = [TextLine(box.x, box.y + 11, "Characters", 11.0, bold=True)]
    lines = "\n".join(f"{name}: {description}" for name, description in story.characters)
    fit = fit_text(lines, box.w, max(0.0, box.h - 20), 10.0, 6.5)
    items += text_block(fit, box.x, box.y + 20)
    return items


def format_duration(seconds: float) -> str:
    """``1:05`` for 65 seconds, ``0:28.5`` for 28.5: how running times read on a slate,
    to the hundredth, so the cover agrees with the animatic to the frame."""
    minutes, hundredths = divmod(round(seconds * 100), 6000)
    text = f"{minutes}:{hundredths // 100:02d}"
    if hundredths % 100:
        text += f".{hundredths % 100:02d}".rstrip("0")
    return text
