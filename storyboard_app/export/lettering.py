"""Comic lettering on a panel: narration in a caption box, dialogue in speech balloons.

The conventions comic letterers use: the narration sits in a rectangular,
tinted box flush with the panel's top-left corner; each line of dialogue gets
its own white balloon, stacked below it in reading order and alternating
sides, with a tail pointing into the picture towards the speakers. A line
written ``Mara: Run!`` by a character of the panel is lettered ``Run!`` (the
tail says who speaks); any other line is lettered as written. Lettering never
leaves its panel: text shrinks to fit, and what cannot fit ends with an
ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyboard_app.export.fonts import text_width
from storyboard_app.export.layout_common import block_height, text_block
from storyboard_app.export.page_items import (
    NARRATION_FILL,
    WHITE,
    PageItem,
    Rect,
    Shape,
    balloon_outline,
    rectangle,
)
from storyboard_app.export.story import ExportPanel
from storyboard_app.export.text import LEADING, TextFit, fit_text

CAPTION_WIDTH = 0.72  # of the panel
CAPTION_HEIGHT = 0.3
BALLOON_WIDTH = 0.62
LETTERING_HEIGHT = 0.75  # caption and balloons together, of the panel's height
TAIL = 0.09  # of the panel's height


@dataclass(frozen=True)
class Speech:
    """One balloon's words; ``speaker`` is the panel's character who says them, if named."""

    speaker: str
    text: str


def speech_lines(panel: ExportPanel) -> list[Speech]:
    """The panel's dialogue, a balloon a line; ``Name:`` is dropped for its own characters."""
    lines = []
    for line in panel.dialogue.splitlines():
        line = line.strip()
        name, colon, words = line.partition(":")
        if colon and name.strip() in panel.characters and words.strip():
            lines.append(Speech(name.strip(), words.strip()))
        elif line:
            lines.append(Speech("", line))
    return lines


def panel_lettering(
    frame: Rect, panel: ExportPanel, max_size: float = 10.0, min_size: float = 6.0
) -> list[PageItem]:
    """The caption box and the balloons of ``panel`` inside ``frame``."""
    items: list[PageItem] = []
    top = frame.y
    narration = panel.caption.strip()
    if narration:
        box, fit = caption_box(frame, narration, max_size, min_size)
        pad = max_size * 0.55
        items += [Shape(rectangle(box), fill=NARRATION_FILL, line_width=0.6)]
        items += text_block(fit, box.x + pad, box.y + pad)
        top = box.bottom
    speech = speech_lines(panel)
    if speech:
        items += balloons(frame, speech, top, panel.number % 2 == 1, max_size, min_size)
    return items


def caption_box(frame: Rect, text: str, max_size: float, min_size: float) -> tuple[Rect, TextFit]:
    """The narration box flush with the top-left corner, as small as its text allows."""
    pad = max_size * 0.55
    fit = fit_text(
        text,
        frame.w * CAPTION_WIDTH - 2 * pad,
        frame.h * CAPTION_HEIGHT - 2 * pad,
        max_size,
        min_size,
    )
    width = max(text_width(line, fit.size) for line in fit.lines) + 2 * pad
    return Rect(frame.x, frame.y, width, block_height(fit) + 2 * pad), fit


def balloons(
    frame: Rect,
    speech: list[Speech],
    top: float,
    left_first: bool,
    max_size: float,
    min_size: float,
) -> list[PageItem]:
    """A balloon per line from ``top`` down, alternating sides; lines beyond the room
    left join the last balloon (which then ends with an ellipsis)."""
    inset = min(frame.w, frame.h) * 0.05
    tail = frame.h * TAIL
    bottom = min(frame.bottom - inset, frame.y + frame.h * LETTERING_HEIGHT)
    smallest = min_size * LEADING + 2 * min_size * 0.55 + tail * 0.5
    room = max(0.0, bottom - top - inset)
    count = max(1, min(len(speech), int(room // smallest)))
    texts = [s.text for s in speech[: count - 1]]
    texts.append("\n".join(s.text for s in speech[count - 1 :]))
    share = max(room / count, smallest) - tail * 0.5
    items: list[PageItem] = []
    y = top + inset
    for index, words in enumerate(texts):
        left = left_first == (index % 2 == 0)
        box, fit = balloon_box(frame, words, y, share, left, max_size, min_size)
        tip = (box.x + box.w * (0.7 if left else 0.3), min(box.bottom + tail, frame.bottom - 1))
        outline = balloon_outline(box, min(box.h, box.w) * 0.35, tip)
        items.append(Shape(outline, fill=WHITE, line_width=0.7))
        items += text_block(
            fit, box.x + box.w / 2, box.y + (box.h - block_height(fit)) / 2, align="center"
        )
        y = box.bottom + tail * 0.5
    return items


def balloon_box(
    frame: Rect,
    words: str,
    top: float,
    height: float,
    left: bool,
    max_size: float,
    min_size: float,
) -> tuple[Rect, TextFit]:
    """A balloon's rectangle at ``top``, against the left or right edge (inset)."""
    pad = max_size * 0.55
    inset = min(frame.w, frame.h) * 0.05
    fit = fit_text(words, frame.w * BALLOON_WIDTH - 2 * pad, height - 2 * pad, max_size, min_size)
    width = max(text_width(line, fit.size) for line in fit.lines) + 2 * pad
    box_h = block_height(fit) + 2 * pad
    x = frame.x + inset if left else frame.right - inset - width
    return Rect(x, top, width, box_h), fit
