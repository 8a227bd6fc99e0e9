"""Raster pictures shared by the video, image and comic-archive exports.

Panel images are decoded to RGB, and a panel without a usable image becomes a
placeholder with its number and why it has no picture, drawn in the bundled
font, so every export shows the same gap in the same way.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from storyboard_app.export.fonts import pil_font
from storyboard_app.project.errors import MediaError
from storyboard_app.project.media import MediaStore

PLACEHOLDER_FILL = "#e4e4e4"
PLACEHOLDER_LINES = "#c2c2c2"
PLACEHOLDER_TEXT = "#5a5a5a"


def load_rgb(media: MediaStore, name: str) -> Image.Image | None:
    """The media image as RGB, or None when it is missing or unreadable."""
    try:
        data = media.read_bytes(name)
        with Image.open(io.BytesIO(data)) as image:
            return flatten_to_rgb(image)
    except (MediaError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def flatten_to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency is composited on white, as it would print."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def placeholder_image(size: tuple[int, int], title: str, reason: str) -> Image.Image:
    """A grey frame crossed corner to corner, labelled e.g. ``Panel 3`` / ``not rendered``."""
    width, height = size
    image = Image.new("RGB", size, PLACEHOLDER_FILL)
    draw = ImageDraw.Draw(image)
    line = max(1, min(width, height) // 150)
    draw.line([(0, 0), (width, height)], fill=PLACEHOLDER_LINES, width=line)
    draw.line([(0, height), (width, 0)], fill=PLACEHOLDER_LINES, width=line)
    draw.rectangle([0, 0, width - 1, height - 1], outline=PLACEHOLDER_LINES, width=line)
    title_px = max(8, min(width, height) // 9)
    title_font, reason_font = pil_font(title_px, bold=True), pil_font(max(6, title_px * 3 // 5))
    title_at, reason_at = (width / 2, height / 2), (width / 2, height / 2 + title_px * 0.3)
    boxes = [
        draw.textbbox(title_at, title, font=title_font, anchor="ms"),
        draw.textbbox(reason_at, reason, font=reason_font, anchor="mt"),
    ]
    pad = title_px // 4
    backing = [
        min(b[0] for b in boxes) - pad,
        boxes[0][1] - pad,
        max(b[2] for b in boxes) + pad,
        boxes[1][3] + pad,
    ]
    draw.rectangle(backing, fill=PLACEHOLDER_FILL)
    draw.text(title_at, title, font=title_font, fill=PLACEHOLDER_TEXT, anchor="ms")
    draw.text(reason_at, reason, font=reason_font, fill=PLACEHOLDER_TEXT, anchor="mt")
    return image


def contain_box(source: tuple[float, float], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` of the largest box of the source's aspect centred inside ``target``."""
    scale = min(target[0] / source[0], target[1] / source[1])
    width = max(1, min(target[0], round(source[0] * scale)))
    height = max(1, min(target[1], round(source[1] * scale)))
    return (target[0] - width) // 2, (target[1] - height) // 2, width, height


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def to_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
