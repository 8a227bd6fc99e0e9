"""Scores of toy-world stories on hand-made pictures with known answers."""

from __future__ import annotations

from storyboard_app.engine.toyworld.scoring import (
    Cast,
    PanelPlan,
    Standing,
    attribute_agreement,
    leak_rate,
    prompt_following,
    reference_match,
    swapped_panels,
)
from storyboard_app.engine.toyworld.world import Creature, Picture, Placed

ROO = Cast("Roo", {"shape": "round"})
PIP = Cast("Pip", {"shape": "square"})


def one(creature: Creature, position: str = "left", size: str = "small") -> Picture:
    return Picture("night", ("tree",), (Placed(creature, position, size),))


def test_agreement_counts_open_attributes_between_panels() -> None:
    plans = [PanelPlan("night", ("tree",), (Standing("Roo", "left", "small"),))] * 3
    same = [one(Creature("round", "red", "white", "dots"))] * 3
    assert attribute_agreement([(ROO, plans, same)]) == 1.0
    mixed = [
        one(Creature("round", "red", "white", "dots")),
        one(Creature("round", "red", "black", "plain")),
        one(Creature("round", "blue", "black", "plain")),
    ]
    # pairs: (1,2) colour only = 1/3, (1,3) none = 0, (2,3) hat+pattern = 2/3
    assert abs(attribute_agreement([(ROO, plans, mixed)]) - 1 / 3) < 1e-9
    assert abs(attribute_agreement([(ROO, plans, mixed)], only="colour") - 1 / 3) < 1e-9


def test_reference_match_counts_open_attributes_shown_as_the_reference() -> None:
    plans = [PanelPlan("night", ("tree",), (Standing("Roo", "left", "small"),))] * 2
    reference = Creature("round", "red", "white", "dots")
    pictures = [one(reference), one(Creature("round", "red", "black", "plain"))]
    # panel 1 shows all three open attributes of the reference, panel 2 only its colour
    assert abs(reference_match([(ROO, plans, pictures)], [reference]) - 2 / 3) < 1e-9
    missing = [one(reference), Picture("night", ("tree",), ())]
    assert reference_match([(ROO, plans, missing)], [reference]) == 1.0
    assert reference_match([], []) == 0.0


def test_prompt_following_checks_scene_placement_and_named_shape() -> None:
    plan = PanelPlan("night", ("tree",), (Standing("Roo", "left", "small"),))
    casts = {"Roo": ROO}
    assert prompt_following(plan, one(Creature("round", "red", "white", "dots")), casts) == 1.0
    wrong_shape = one(Creature("square", "red", "white", "dots"))
    assert prompt_following(plan, wrong_shape, casts) == 5 / 6
    assert prompt_following(plan, Picture("day"), casts) == 0.0


def test_leak_is_the_share_of_pictures_with_a_creature() -> None:
    assert leak_rate([Picture("day"), one(Creature("round", "red", "white", "dots"))]) == 0.5


def test_a_creature_wearing_the_other_ones_look_is_a_swap() -> None:
    roo = Creature("round", "red", "white", "dots")
    pip = Creature("square", "blue", "black", "plain")
    plans, pictures = [], []
    for panel in range(4):
        left, right = ("Roo", "Pip") if panel % 2 else ("Pip", "Roo")
        plans.append(
            PanelPlan(
                "day", (), (Standing(left, "left", "small"), Standing(right, "right", "small"))
            )
        )
        looks = {"Roo": roo, "Pip": pip}
        if panel == 3:  # Roo, on the right, takes Pip's colours
            looks["Roo"] = Creature("round", "blue", "black", "plain")
        pictures.append(
            Picture(
                "day",
                (),
                (Placed(looks[left], "left", "small"), Placed(looks[right], "right", "small")),
            )
        )
    assert swapped_panels((ROO, PIP), plans, pictures) == (1, 4)
