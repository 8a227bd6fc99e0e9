"""Reading a toy-world picture back: background, props, and each creature's attributes.

The parse uses the world's layout rules (props in fixed slots, creatures standing
on one row at known sizes) and nearest-palette colours, so it is exact on drawn
pictures and tolerant of the slightly-off colours and edges a trained model
draws. Anything it cannot place (a blob too small to be a creature) is ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from storyboard_app.engine.toyworld.world import (
    BACKGROUNDS,
    BODY_COLOURS,
    CREATURE_TOP,
    FOREGROUND_DISTANCE,
    GROUND,
    HAT_COLOURS,
    HAT_HEIGHT,
    PATTERN_COLOUR,
    POSITIONS,
    PROP_ROWS,
    PROPS,
    SHAPES,
    SIZES,
    Creature,
    Picture,
    Placed,
    shape_mask,
)

PROP_SHARE = 0.12
"""Share of a prop slot's pixels that must differ from the background to count as a prop."""
MIN_CREATURE_COLUMNS = 6
MIN_CREATURE_PIXELS = 40


def parse(image: np.ndarray) -> Picture:
    """What a (64, 64, 3) RGB picture shows, in the world's terms."""
    pixels = np.asarray(image, dtype=np.float32)[..., :3]
    background = _background(pixels)
    foreground = _distance(pixels, BACKGROUNDS[background]) > FOREGROUND_DISTANCE
    props = tuple(
        prop
        for slot, prop in enumerate(PROPS)
        if foreground[0:PROP_ROWS, slot * 16 : slot * 16 + 16].mean() > PROP_SHARE
    )
    zone = foreground.copy()
    zone[:CREATURE_TOP] = False
    zone[GROUND + 1 :] = False
    creatures = [_creature(pixels, zone, columns) for columns in _column_runs(zone)]
    return Picture(background, props, tuple(c for c in creatures if c is not None))


def _distance(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.linalg.norm(pixels - np.asarray(colour, dtype=np.float32), axis=-1)


def nearest(colour: np.ndarray, palette: Mapping[str, tuple[int, int, int]]) -> str:
    """The palette name closest to one RGB colour."""
    names = list(palette)
    table = np.asarray([palette[n] for n in names], dtype=np.float32)
    return names[int(np.argmin(np.linalg.norm(table - colour, axis=-1)))]


def _background(pixels: np.ndarray) -> str:
    """The band between the props and the tallest hat is always bare background."""
    band = pixels[PROP_ROWS + 1 : CREATURE_TOP].reshape(-1, 3)
    return nearest(np.median(band, axis=0), BACKGROUNDS)


def _column_runs(zone: np.ndarray) -> list[slice]:
    """Runs of columns holding foreground: one per creature (they never touch)."""
    occupied = zone.sum(axis=0) > 1
    runs: list[slice] = []
    start = None
    for col, filled in enumerate([*occupied, False]):
        if filled and start is None:
            start = col
        elif not filled and start is not None:
            if col - start >= MIN_CREATURE_COLUMNS:
                runs.append(slice(start, col))
            start = None
    return runs


def _creature(pixels: np.ndarray, zone: np.ndarray, columns: slice) -> Placed | None:
    mask = zone[:, columns]
    if mask.sum() < MIN_CREATURE_PIXELS:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    height = rows[-1] + 1 - rows[0]
    size = min(SIZES, key=lambda s: abs(SIZES[s] + HAT_HEIGHT[s] - height))
    side = SIZES[size]
    body_top = GROUND - side
    body = mask[body_top:GROUND]
    if not body.any():
        return None
    centre = columns.start + float(np.flatnonzero(body.any(axis=0)).mean()) + 0.5
    position = min(POSITIONS, key=lambda p: abs(POSITIONS[p] - centre))
    left = POSITIONS[position] - side // 2
    body_pixels = pixels[body_top:GROUND, left : left + side]
    body_mask = zone[body_top:GROUND, left : left + side]
    hat_pixels = pixels[body_top - HAT_HEIGHT[size] : body_top, columns][
        zone[body_top - HAT_HEIGHT[size] : body_top, columns]
    ]
    creature = Creature(
        shape=_shape(body_mask),
        colour=_body_colour(body_pixels[body_mask]),
        hat=_mode_colour(hat_pixels, HAT_COLOURS) if len(hat_pixels) else "none",
        pattern=_pattern(body_pixels, body_mask),
    )
    return Placed(creature, position, size)


def _shape(body: np.ndarray) -> str:
    """The shape whose template overlaps the body mask best (intersection over union)."""

    def overlap(shape: str) -> float:
        template = shape_mask(shape, body.shape[0])
        return (template & body).sum() / max((template | body).sum(), 1)

    return max(SHAPES, key=overlap)


def _pattern_pixels(pixels: np.ndarray) -> np.ndarray:
    dark = _distance(pixels, PATTERN_COLOUR)
    nearest_body = np.min([_distance(pixels, c) for c in BODY_COLOURS.values()], axis=0)
    return dark < nearest_body


def _body_colour(pixels: np.ndarray) -> str:
    colour = pixels[~_pattern_pixels(pixels)] if len(pixels) else pixels
    return _mode_colour(colour if len(colour) else pixels, BODY_COLOURS)


def _mode_colour(pixels: np.ndarray, palette: Mapping[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    table = np.asarray([palette[n] for n in names], dtype=np.float32)
    labels = np.argmin(np.linalg.norm(pixels[:, None, :] - table[None], axis=-1), axis=1)
    return names[Counter(labels.tolist()).most_common(1)[0][0]]


def _pattern(pixels: np.ndarray, body: np.ndarray) -> str:
    """Plain, or stripes (whole rows dark) or dots (dark patches, no dark row)."""
    dark = _pattern_pixels(pixels) & body
    if dark.sum() < max(4, 0.04 * body.sum()):
        return "plain"
    widths = body.sum(axis=1)
    wide = widths >= 6
    row_share = dark.sum(axis=1)[wide] / widths[wide]
    return "stripes" if (row_share > 0.6).sum() >= 2 else "dots"
