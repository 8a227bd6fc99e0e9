"""Setting captions into boxes: word wrapping and shrink-to-fit with the bundled font.

Layouts decide where every line goes before anything is drawn, so the PDF and
its preview put the same words on the same lines. Text that cannot fit even at
the smallest size is cut with an ellipsis rather than spilling over a panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyboard_app.export.fonts import text_width

ELLIPSIS = "…"
LEADING = 1.2


@dataclass(frozen=True)
class TextFit:
    """Lines set at ``size`` points, ``leading`` points apart; ``complete`` if nothing was cut."""

    lines: tuple[str, ...]
    size: float
    leading: float
    complete: bool

    @property
    def height(self) -> float:
        return len(self.lines) * self.leading


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Lines of ``text`` no wider than ``width``; explicit line breaks are kept."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(wrap_paragraph(paragraph, size, width, bold))
    return lines


def wrap_paragraph(paragraph: str, size: float, width: float, bold: bool) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in paragraph.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = split_long_word(word, size, width, bold)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines


def split_long_word(word: str, size: float, width: float, bold: bool) -> list[str]:
    """A word wider than the box, broken between letters (URLs, long names)."""
    pieces: list[str] = []
    current = ""
    for letter in word:
        if current and text_width(current + letter, size, bold) > width:
            pieces.append(current)
            current = letter
        else:
            current += letter
    return [*pieces, current]


def fit_text(
    text: str,
    width: float,
    height: float,
    max_size: float,
    min_size: float,
    bold: bool = False,
) -> TextFit:
    """The largest size from ``max_size`` down to ``min_size`` at which ``text`` fits the box."""
    size = max_size
    while True:
        lines = wrap(text, size, width, bold)
        leading = size * LEADING
        if len(lines) * leading <= height or size <= min_size:
            break
        size = max(min_size, size - 0.5)
    capacity = max(1, int(height // leading))
    if len(lines) <= capacity:
        return TextFit(tuple(lines), size, leading, complete=True)
    kept = lines[:capacity]
    kept[-1] = truncate(kept[-1], size, width, bold)
    return TextFit(tuple(kept), size, leading, complete=False)


def truncate(line: str, size: float, width: float, bold: bool) -> str:
    """``line`` shortened until it fits with an ellipsis after it."""
    while line and text_width(line + ELLIPSIS, size, bold) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS
