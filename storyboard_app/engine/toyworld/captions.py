"""Captions of toy-world pictures, and the whole-word vocabulary the toy model's tokenizer uses.

A caption always names the scene (background and props) and each creature's
size and placement, but only a random subset of a creature's own attributes, so
a model trained on them learns to fill the unnamed ones in at random: exactly
the freedom that consistent rendering has to take away. The grammar is the one
a story's expanded prompt reads in: ``a round creature, small, on the left, at
night, with a tree`` is the description ``a round creature`` followed by a
panel's ``, small, on the left, at night, with a tree``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storyboard_app.engine.toyworld.world import (
    BACKGROUNDS,
    BODY_COLOURS,
    HAT_COLOURS,
    PATTERNS,
    POSITIONS,
    PROPS,
    SHAPES,
    SIZES,
    Creature,
    Picture,
    Placed,
)

ATTRIBUTES = ("shape", "colour", "hat", "pattern")
BACKGROUND_WORDS = {
    "day": "in the day",
    "night": "at night",
    "grass": "on grass",
    "sand": "on sand",
}
POSITION_WORDS = {"left": "on the left", "centre": "in the centre", "right": "on the right"}


@dataclass(frozen=True)
class Named:
    """Which of a creature's attributes a caption names."""

    shape: bool = False
    colour: bool = False
    hat: bool = False
    pattern: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, share: float = 0.5) -> Named:
        return cls(*(bool(rng.random() < share) for _ in ATTRIBUTES))

    def names(self) -> tuple[str, ...]:
        return tuple(a for a in ATTRIBUTES if getattr(self, a))


def describe(creature: Creature, named: Named) -> str:
    """``a plain round red creature with a white hat``: the named attributes only."""
    words = ["a"]
    if named.pattern and creature.pattern == "plain":
        words.append("plain")
    if named.shape:
        words.append(creature.shape)
    if named.colour:
        words.append(creature.colour)
    words.append("creature")
    extras = []
    if named.pattern and creature.pattern != "plain":
        extras.append(creature.pattern)
    if named.hat:
        extras.append(f"a {creature.hat} hat")
    if extras:
        words += ["with", " and ".join(extras)]
    return " ".join(words)


def placement(placed: Placed) -> str:
    """``, small, on the left``: what follows a creature's description."""
    return f", {placed.size}, {POSITION_WORDS[placed.position]}"


def scene(picture: Picture) -> str:
    """``at night, with a tree and a sun``."""
    text = BACKGROUND_WORDS[picture.background]
    if picture.props:
        text += ", with " + " and ".join(f"a {p}" for p in picture.props)
    return text


def caption(picture: Picture, named: tuple[Named, ...]) -> str:
    """The caption of a picture, naming ``named[i]`` of creature ``i``."""
    pairs = zip(picture.creatures, named, strict=True)
    parts = [describe(p.creature, n) + placement(p) for p, n in pairs]
    creatures = ", and ".join(parts)
    return f"{creatures}, {scene(picture)}" if creatures else scene(picture)


def random_caption(picture: Picture, rng: np.random.Generator) -> str:
    """A training caption: each creature's attributes named at random."""
    return caption(picture, tuple(Named.random(rng) for _ in picture.creatures))


def words() -> list[str]:
    """Every word a caption can use (the tokenizer keeps each as one token)."""
    fixed = "a creature with and hat plain small large on the left right in centre at day night"
    vocabulary = [
        *fixed.split(),
        *SHAPES,
        *BODY_COLOURS,
        *HAT_COLOURS,
        *PATTERNS,
        *BACKGROUNDS,
        *PROPS,
        *SIZES,
        *POSITIONS,
        ",",
    ]
    return list(dict.fromkeys(vocabulary))
