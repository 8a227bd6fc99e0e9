"""Scores of rendered toy-world stories: agreement, prompt following, leaks and swaps.

Each panel of a story is planned as a :class:`PanelPlan` (what its prompt asks
for, and which character stands where) and parsed back from its picture; the
scores compare the two. An attribute a prompt leaves open is free for the model
to choose, so agreement on it between panels of one story is what consistent
rendering adds; attributes a prompt names are prompt following.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storyboard_app.engine.toyworld.captions import ATTRIBUTES
from storyboard_app.engine.toyworld.world import Creature, Picture, Placed


@dataclass(frozen=True)
class Cast:
    """A character as its description names it: only ``named`` attributes are fixed."""

    name: str
    named: Mapping[str, str]

    def open_attributes(self) -> tuple[str, ...]:
        return tuple(a for a in ATTRIBUTES if a not in self.named)


@dataclass(frozen=True)
class Standing:
    """Where a character is asked to stand in one panel."""

    character: str
    position: str
    size: str


@dataclass(frozen=True)
class PanelPlan:
    """What a panel's prompt asks for."""

    background: str
    props: tuple[str, ...]
    cast: tuple[Standing, ...]


def found_at(picture: Picture, position: str) -> Placed | None:
    """The parsed creature standing at ``position``, if any."""
    return next((c for c in picture.creatures if c.position == position), None)


def prompt_following(plan: PanelPlan, picture: Picture, casts: Mapping[str, Cast]) -> float:
    """Share of what the prompt names that the picture shows.

    Checked: background, the set of props, the number of creatures, and for each
    character a creature at its position, of its size, with its named attributes.
    """
    checks = [
        picture.background == plan.background,
        set(picture.props) == set(plan.props),
        len(picture.creatures) == len(plan.cast),
    ]
    for standing in plan.cast:
        creature = found_at(picture, standing.position)
        named = casts[standing.character].named
        checks.append(creature is not None)
        checks.append(creature is not None and creature.size == standing.size)
        checks += [
            creature is not None and getattr(creature.creature, a) == v for a, v in named.items()
        ]
    return sum(checks) / len(checks)


def creatures_of(
    character: str, plans: Sequence[PanelPlan], pictures: Sequence[Picture]
) -> list[Creature]:
    """The creatures parsed where ``character`` was asked to stand, panel by panel."""
    found = []
    for plan, picture in zip(plans, pictures, strict=True):
        for standing in plan.cast:
            placed = (
                found_at(picture, standing.position) if standing.character == character else None
            )
            if placed is not None:
                found.append(placed.creature)
    return found


def pair_agreements(creatures: Sequence[Creature], attributes: Sequence[str]) -> list[float]:
    """For every pair of panels, the share of ``attributes`` the two creatures share."""
    return [
        sum(getattr(a, name) == getattr(b, name) for name in attributes) / len(attributes)
        for a, b in itertools.combinations(creatures, 2)
    ]


def attribute_agreement(
    stories: Sequence[tuple[Cast, Sequence[PanelPlan], Sequence[Picture]]],
    only: str | None = None,
) -> float:
    """Mean pairwise agreement of each character's open attributes (or ``only`` one of them)."""
    pairs = []
    for cast, plans, pictures in stories:
        attributes = [a for a in cast.open_attributes() if only in (None, a)]
        if attributes:
            pairs += pair_agreements(creatures_of(cast.name, plans, pictures), attributes)
    return sum(pairs) / len(pairs) if pairs else 0.0


def reference_match(
    stories: Sequence[tuple[Cast, Sequence[PanelPlan], Sequence[Picture]]],
    references: Sequence[Creature],
) -> float:
    """Mean share of each character's open attributes that its panels show as its reference.

    A reference picture fixes the look the prompts leave open; this is how often the
    panels take it (chance about 0.24), where agreement only asks that they take one look.
    """
    shares = []
    for (cast, plans, pictures), reference in zip(stories, references, strict=True):
        attributes = cast.open_attributes()
        for creature in creatures_of(cast.name, plans, pictures):
            alike = [getattr(creature, a) == getattr(reference, a) for a in attributes]
            shares.append(sum(alike) / len(alike))
    return sum(shares) / len(shares) if shares else 0.0


def leak_rate(pictures: Sequence[Picture]) -> float:
    """Share of pictures of ``[NC]`` panels that show a creature."""
    return sum(bool(p.creatures) for p in pictures) / len(pictures) if pictures else 0.0


def majority(creatures: Sequence[Creature], attributes: Sequence[str]) -> dict[str, str]:
    """The most common value of each attribute (the character's look in this story)."""
    return {
        a: Counter(getattr(c, a) for c in creatures).most_common(1)[0][0]
        for a in attributes
        if creatures
    }


def swapped_panels(
    casts: tuple[Cast, Cast], plans: Sequence[PanelPlan], pictures: Sequence[Picture]
) -> tuple[int, int]:
    """(panels where a creature looks more like the other character than its own, panels).

    A character's look is its majority over the story; a story whose two looks
    do not differ in any open attribute cannot show a swap and counts no panels.
    """
    attributes = [a for a in casts[0].open_attributes() if a in casts[1].open_attributes()]
    looks = {c.name: majority(creatures_of(c.name, plans, pictures), attributes) for c in casts}
    if any(not look for look in looks.values()) or looks[casts[0].name] == looks[casts[1].name]:
        return 0, 0
    swaps = 0
    for plan, picture in zip(plans, pictures, strict=True):
        swaps += any(_looks_like_other(s, picture, looks, attributes) for s in plan.cast)
    return swaps, len(plans)


def _looks_like_other(
    standing: Standing,
    picture: Picture,
    looks: Mapping[str, Mapping[str, str]],
    attributes: Sequence[str],
) -> bool:
    placed = found_at(picture, standing.position)
    if placed is None:
        return False
    own = looks[standing.character]
    other = next(look for name, look in looks.items() if name != standing.character)

    def score(look: Mapping[str, str]) -> int:
        return sum(getattr(placed.creature, a) == look[a] for a in attributes)

    return score(other) > score(own)
