"""Burnt-in captions and panel numbers for animatic frames.

Each overlay is drawn once per panel with Pillow (the bundled font, wrapped
like the PDF) and then blended into every frame of that panel with numpy, so
captions cost almost nothing per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from storyboard_app.export.fonts import draw_text, pil_font, text_width
from storyboard_app.export.layout_common import block_height, text_block
from storyboard_app.export.text import fit_text

BAND_OPACITY = 150
BADGE_OPACITY = 170
MAX_CAPTION_LINES = 3


@dataclass(frozen=True)
class Overlay:
    """A premultiplied RGB patch and its opacity, to blend at ``(x, y)`` of a frame."""

    x: int
    y: int
    color: np.ndarray
    alpha: np.ndarray

    def apply(self, frame: np.ndarray) -> None:
        """Blend into ``frame`` in place."""
        height, width = self.alpha.shape[:2]
        region = frame[self.y : self.y + height, self.x : self.x + width]
        blended = region * (1.0 - self.alpha) + self.color
        region[...] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def from_rgba(image: Image.Image, x: int, y: int) -> Overlay:
    rgba = np.asarray(image, dtype=np.float32)
    alpha = rgba[..., 3:4] / 255.0
    return Overlay(x, y, rgba[..., :3] * alpha, alpha)


def caption_overlay(caption: str, size: tuple[int, int]) -> Overlay | None:
    """The caption in white on a dark band along the bottom, at most three lines."""
    caption = caption.strip()
    if not caption:
        return None
    width, height = size
    font_px = max(10, height // 24)
    pad = font_px // 2
    limit = MAX_CAPTION_LINES * font_px * 1.2
    fit = fit_text(caption, width * 0.9, limit, font_px, max(8, font_px * 0.7))
    band_height = min(height, round(block_height(fit) + 2 * pad))
    band = Image.new("RGBA", (width, band_height), (0, 0, 0, BAND_OPACITY))
    draw = ImageDraw.Draw(band)
    for line in text_block(fit, width / 2, pad, align="center"):
        draw_text(draw, (line.x, line.y), line.text, line.size, "white", anchor="ms")
    return from_rgba(band, 0, height - band_height)


def number_overlay(number: int, size: tuple[int, int]) -> Overlay:
    """The panel number in a dark badge in the top-left corner."""
    font_px = max(10, size[1] // 28)
    text = str(number)
    pad = font_px // 3
    badge_w = round(text_width(text, font_px, bold=True)) + 2 * pad + 2
    badge_h = font_px + 2 * pad
    badge = Image.new("RGBA", (badge_w, badge_h), (0, 0, 0, BADGE_OPACITY))
    draw = ImageDraw.Draw(badge)
    centre = (badge_w / 2, badge_h / 2)
    draw.text(centre, text, font=pil_font(font_px, bold=True), fill="white", anchor="mm")
    margin = max(2, font_px // 2)
    return from_rgba(badge, min(margin, size[0] - badge_w), min(margin, size[1] - badge_h))
