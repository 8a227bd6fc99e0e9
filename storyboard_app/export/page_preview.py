"""Drawing laid-out pages as Pillow images: the Export dialog's live preview, and comic pages
for the CBZ archive.

It draws the very items the PDF writer draws, with the same font files, so a
preview shows the PDF's line breaks, balloons and crops.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from storyboard_app.export.fonts import draw_text
from storyboard_app.export.page_items import Page, PanelArt, Rect, Rule, Shape, TextLine
from storyboard_app.export.pictures import load_rgb, placeholder_image
from storyboard_app.project.media import MediaStore

ANCHORS = {"left": "ls", "center": "ms", "right": "rs"}


def render_page(page: Page, media: MediaStore, scale: float) -> Image.Image:
    """``page`` as an RGB image at ``scale`` pixels per point (72 dpi is scale 1)."""
    size = (max(1, math.ceil(page.width * scale)), max(1, math.ceil(page.height * scale)))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for item in page.items:
        if isinstance(item, PanelArt):
            paste_panel(image, item, media, scale)
        elif isinstance(item, TextLine):
            draw_text(
                draw,
                (item.x * scale, item.y * scale),
                item.text,
                item.size * scale,
                item.color,
                bold=item.bold,
                anchor=ANCHORS.get(item.align, "ls"),
            )
        elif isinstance(item, Shape):
            points = [(x * scale, y * scale) for x, y in item.points]
            width = max(1, round(item.line_width * scale))
            draw.polygon(points, fill=item.fill, outline=item.stroke, width=width)
        elif isinstance(item, Rule):
            start, end = item.start, item.end
            line = [(start[0] * scale, start[1] * scale), (end[0] * scale, end[1] * scale)]
            draw.line(line, fill=item.color, width=max(1, round(item.line_width * scale)))
    return image


def pixel_box(rect: Rect, scale: float) -> tuple[int, int, int, int]:
    left, top = round(rect.x * scale), round(rect.y * scale)
    return (
        left,
        top,
        max(left + 1, round(rect.right * scale)),
        max(top + 1, round(rect.bottom * scale)),
    )


def paste_panel(image: Image.Image, art: PanelArt, media: MediaStore, scale: float) -> None:
    """The panel's picture scaled to its placed box and clipped to its frame."""
    frame = pixel_box(art.frame, scale)
    picture = load_rgb(media, art.panel.media) if art.panel.media else None
    if picture is None:
        size = (frame[2] - frame[0], frame[3] - frame[1])
        reason = art.panel.problem or "image unreadable"
        image.paste(placeholder_image(size, art.panel.label, reason), frame[:2])
        return
    placed = pixel_box(art.placed, scale)
    resized = picture.resize(
        (placed[2] - placed[0], placed[3] - placed[1]), Image.Resampling.LANCZOS
    )
    visible = (
        max(frame[0], placed[0]),
        max(frame[1], placed[1]),
        min(frame[2], placed[2]),
        min(frame[3], placed[3]),
    )
    crop = (
        visible[0] - placed[0],
        visible[1] - placed[1],
        visible[2] - placed[0],
        visible[3] - placed[1],
    )
    image.paste(resized.crop(crop), visible[:2])
