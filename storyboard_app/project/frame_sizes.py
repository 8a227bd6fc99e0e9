"""Render sizes from an aspect ratio: the frame a model renders best at for a given shape.

A diffusion model renders well near the pixel count it was trained at: SDXL
around one megapixel (its training buckets are multiples of 64 around
1024x1024: 1344x768, 1216x832, 1536x640...), SD 1.5 around 0.26 megapixels
(512x512). Far above that it repeats subjects; far below it loses detail. So a
shape (16:9, 2.39:1, ...) becomes the size on the architecture's grid whose
ratio is closest to the shape, at about the native pixel count.
"""

from __future__ import annotations

import math

from storyboard_app.project.errors import ValidationError

# The shapes artists frame in, widest first after the usual screen ratio.
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "2.39:1", "1.85:1", "4:3", "1:1", "9:16")
ASPECT_LABELS: dict[str, str] = {
    "16:9": "16:9 (HD video)",
    "2.39:1": "2.39:1 (cinemascope)",
    "1.85:1": "1.85:1 (cinema flat)",
    "4:3": "4:3 (classic TV)",
    "1:1": "1:1 (square)",
    "9:16": "9:16 (phone, vertical)",
}
DEFAULT_ASPECT_RATIO = "1:1"
# The side of the square each architecture was trained at (SDXL 1024, SD 1.5 512).
NATIVE_SIDES: dict[str, int] = {"sdxl": 1024, "sd15": 512}
# Every side is a multiple of this: SDXL's buckets step by 64; SD 1.5's VAE needs 8.
SIZE_MULTIPLES: dict[str, int] = {"sdxl": 64, "sd15": 8}
# No frame more elongated than this (a model cannot compose a 1:10 strip).
MAX_ELONGATION = 4.0
# How much a pixel-count miss weighs against a ratio miss (both as log ratios).
PIXEL_WEIGHT = 1.0


def parse_aspect_ratio(text: str) -> float:
    """Width over height of ``W:H`` (``"2.39:1"`` -> 2.39); a clear error otherwise."""
    width, separator, height = text.strip().partition(":")
    try:
        ratio = float(width) / float(height) if separator else math.nan
    except (ValueError, ZeroDivisionError):
        ratio = math.nan
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValidationError(
            f"Aspect ratio {text!r} is not a ratio.",
            "Write width:height, for example 16:9, 2.39:1 or 1:1.",
        )
    if not 1 / MAX_ELONGATION <= ratio <= MAX_ELONGATION:
        raise ValidationError(
            f"Aspect ratio {text} is too elongated to render.",
            f"Use a shape between 1:{MAX_ELONGATION:g} and {MAX_ELONGATION:g}:1.",
        )
    return ratio


def fit_size(
    aspect_ratio: str, architecture: str, native_side: int | None = None
) -> tuple[int, int]:
    """(width, height) for ``aspect_ratio`` on ``architecture``'s grid at about its native
    pixel count (unknown architectures are treated as SDXL).

    ``native_side`` overrides the trained square's side (tests render tiny). The grid
    step is the architecture's multiple, reduced when needed so that the native square
    itself lies on the grid: 1:1 is always exactly the native size.
    """
    ratio = parse_aspect_ratio(aspect_ratio)
    known = architecture if architecture in NATIVE_SIDES else "sdxl"
    side = native_side if native_side is not None else NATIVE_SIDES[known]
    step = math.gcd(SIZE_MULTIPLES[known], side)
    pixels = side * side
    ideal_width, ideal_height = math.sqrt(pixels * ratio), math.sqrt(pixels / ratio)
    candidates = [
        (width, height)
        for width in _neighbours(ideal_width, step)
        for height in _neighbours(ideal_height, step)
    ]
    return min(candidates, key=lambda size: _miss(size, ratio, pixels))


def describe_size(width: int, height: int) -> str:
    """``1344x768 (1.03 MP)``: what the Settings dialog and the new-project dialog show."""
    return f"{width}x{height} ({width * height / 1_000_000:.2f} MP)"


def _neighbours(ideal: float, step: int) -> tuple[int, ...]:
    """The grid sides around ``ideal`` (never below one step)."""
    below = max(step, math.floor(ideal / step) * step)
    return (below, below + step) if below < ideal else (below - step, below, below + step)


def _miss(size: tuple[int, int], ratio: float, pixels: int) -> float:
    width, height = size
    if width <= 0 or height <= 0:
        return math.inf
    shape_miss = abs(math.log((width / height) / ratio))
    pixel_miss = abs(math.log(width * height / pixels))
    return shape_miss + PIXEL_WEIGHT * pixel_miss
