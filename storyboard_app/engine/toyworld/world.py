"""The toy world: small pictures of creatures whose attributes can be read back from pixels.

Real weights never reach the machines this project is built on, and tiny random
models draw noise, so nothing could say whether a character stays the same from
panel to panel. This world is small enough for a text-to-image model to learn on
a CPU, and every picture in it can be parsed exactly (``parse(draw(spec)) ==
spec``), so a model trained on it can be measured: does an attribute the prompt
left open stay the same across a story's panels?

A 64x64 picture has a uniform background, up to four props in fixed slots of the
top strip (rows 0-20), and one or two creatures standing on row 60: a body of a
shape, colour and pattern, and a hat on top. The layout rules are what make the
parse exact; the palettes are far apart so a model's slightly-off colours still
read as the intended ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIZE = 64
GROUND = 60
"""The row every creature stands on (the body's bottom edge, exclusive)."""
PROP_ROWS = 20
CREATURE_TOP = 29
"""Rows between PROP_ROWS and here are always background: the parser reads it there."""

SHAPES = ("round", "square", "triangle", "diamond")
BODY_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 225, 30),
    "green": (30, 170, 50),
    "cyan": (30, 205, 215),
    "blue": (30, 60, 220),
    "purple": (140, 40, 200),
    "pink": (250, 125, 195),
}
HAT_COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (250, 250, 250),
    "black": (10, 10, 10),
    "brown": (130, 75, 25),
    "gray": (128, 128, 128),
}
PATTERNS = ("plain", "stripes", "dots")
PATTERN_COLOUR = (10, 10, 10)
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "day": (165, 210, 255),
    "night": (30, 30, 95),
    "grass": (150, 215, 110),
    "sand": (230, 205, 150),
}
PROPS = ("tree", "house", "boat", "sun")
"""In slot order: each prop has its own 16-pixel-wide slot of the top strip."""
POSITIONS: dict[str, int] = {"left": 14, "centre": 32, "right": 50}
"""Body centre column for each placement."""
SIZES: dict[str, int] = {"small": 14, "large": 24}
"""Body height and width for each size."""
HAT_HEIGHT = {"small": 4, "large": 5}
FOREGROUND_DISTANCE = 60.0
"""RGB distance from the background above which a pixel belongs to a prop or creature."""


@dataclass(frozen=True, order=True)
class Creature:
    """What a creature is: the attributes a caption may name or leave open."""

    shape: str
    colour: str
    hat: str
    pattern: str


@dataclass(frozen=True, order=True)
class Placed:
    """A creature where it stands in one picture."""

    creature: Creature
    position: str
    size: str


@dataclass(frozen=True)
class Picture:
    """Everything a picture shows; creatures are ordered left to right."""

    background: str
    props: tuple[str, ...] = ()
    creatures: tuple[Placed, ...] = field(default=())


def random_creature(rng: np.random.Generator) -> Creature:
    """A creature with every attribute drawn uniformly."""
    return Creature(
        shape=str(rng.choice(SHAPES)),
        colour=str(rng.choice(list(BODY_COLOURS))),
        hat=str(rng.choice(list(HAT_COLOURS))),
        pattern=str(rng.choice(PATTERNS)),
    )


def random_picture(rng: np.random.Generator, creatures: int | None = None) -> Picture:
    """A random picture with 0, 1 or 2 creatures (``creatures`` fixes how many)."""
    count = int(rng.choice([0, 1, 1, 1, 2, 2])) if creatures is None else creatures
    props = tuple(p for p in PROPS if rng.random() < 0.35)
    if count == 1:
        position = str(rng.choice(list(POSITIONS)))
        placed: tuple[Placed, ...] = (
            Placed(random_creature(rng), position, str(rng.choice(list(SIZES)))),
        )
    else:
        placed = tuple(
            Placed(random_creature(rng), position, str(rng.choice(list(SIZES))))
            for position in ("left", "right")[:count]
        )
    return Picture(str(rng.choice(list(BACKGROUNDS))), props, placed)


def body_box(position: str, size: str) -> tuple[int, int, int]:
    """(left column, top row, side) of a body's square box."""
    side = SIZES[size]
    return POSITIONS[position] - side // 2, GROUND - side, side


def shape_mask(shape: str, side: int) -> np.ndarray:
    """The body's pixels inside its ``side`` x ``side`` box."""
    y, x = np.mgrid[0:side, 0:side] + 0.5
    centre = side / 2
    if shape == "round":
        return (x - centre) ** 2 + (y - centre) ** 2 <= centre**2
    if shape == "square":
        return np.ones((side, side), dtype=bool)
    fraction = y / side
    if shape == "triangle":
        half = fraction * centre
    elif shape == "diamond":
        half = (1 - np.abs(2 * fraction - 1)) * centre
    else:
        raise ValueError(f"unknown shape {shape!r}; the shapes are {', '.join(SHAPES)}")
    return np.abs(x - centre) <= half + 0.5


def pattern_mask(pattern: str, body: np.ndarray) -> np.ndarray:
    """Where the pattern colour goes on a body: stripes every 5 rows, 2x2 dots every 6 pixels."""
    side = body.shape[0]
    marks = np.zeros_like(body)
    if pattern == "stripes":
        for row in range(3, side - 1, 5):
            marks[row : row + 2] = True
    elif pattern == "dots":
        for row in range(3, side - 2, 6):
            for col in range(3, side - 2, 6):
                if body[row : row + 2, col : col + 2].all():
                    marks[row : row + 2, col : col + 2] = True
    return marks & body


def draw(picture: Picture) -> np.ndarray:
    """The picture as a (64, 64, 3) uint8 RGB array."""
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[:] = BACKGROUNDS[picture.background]
    for prop in picture.props:
        _draw_prop(image, prop)
    for placed in picture.creatures:
        _draw_creature(image, placed)
    return image


def _draw_creature(image: np.ndarray, placed: Placed) -> None:
    left, top, side = body_box(placed.position, placed.size)
    body = shape_mask(placed.creature.shape, side)
    box = image[top : top + side, left : left + side]
    box[body] = BODY_COLOURS[placed.creature.colour]
    box[pattern_mask(placed.creature.pattern, body)] = PATTERN_COLOUR
    hat_height = HAT_HEIGHT[placed.size]
    hat_width = round(side * 0.6)
    hat_left = POSITIONS[placed.position] - hat_width // 2
    image[top - hat_height : top, hat_left : hat_left + hat_width] = HAT_COLOURS[
        placed.creature.hat
    ]


def _draw_prop(image: np.ndarray, prop: str) -> None:
    slot = image[0:PROP_ROWS, PROPS.index(prop) * 16 : PROPS.index(prop) * 16 + 16]
    y, x = np.mgrid[0:PROP_ROWS, 0:16] + 0.5
    if prop == "tree":
        slot[(x > 6) & (x < 10) & (y > 12) & (y < 19)] = (110, 65, 20)
        slot[(x - 8) ** 2 + (y - 8) ** 2 <= 36] = (0, 110, 35)
    elif prop == "house":
        slot[(x > 2) & (x < 14) & (y > 9) & (y < 19)] = (200, 70, 50)
        slot[(y > 2) & (y <= 9) & (np.abs(x - 8) <= (y - 2))] = (90, 30, 20)
    elif prop == "boat":
        slot[(y > 13) & (y < 18) & (np.abs(x - 8) <= 7 - (y - 13))] = (120, 75, 35)
        slot[(y > 3) & (y <= 13) & (x > 8) & (x - 8 <= (y - 3) * 0.6)] = (245, 245, 235)
    elif prop == "sun":
        slot[(x - 8) ** 2 + (y - 9) ** 2 <= 30] = (255, 215, 0)
    else:
        raise ValueError(f"unknown prop {prop!r}; the props are {', '.join(PROPS)}")
