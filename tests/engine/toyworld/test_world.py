"""The toy world's parse reads back exactly what was drawn, also through mild noise."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import CLIPTokenizer

from storyboard_app.engine.toyworld.captions import Named, caption, describe, words
from storyboard_app.engine.toyworld.parse import parse
from storyboard_app.engine.toyworld.tokenizer import write_tokenizer
from storyboard_app.engine.toyworld.world import (
    BODY_COLOURS,
    Creature,
    Picture,
    Placed,
    draw,
    random_picture,
)


@pytest.mark.parametrize("noise", [0.0, 10.0])
def test_parse_reads_back_random_pictures(noise: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(400):
        picture = random_picture(rng)
        image = draw(picture).astype(np.float32) + rng.normal(0, noise, (64, 64, 3))
        assert parse(np.clip(image, 0, 255).astype(np.uint8)) == picture


def test_every_colour_shape_and_pattern_reads_back() -> None:
    rng = np.random.default_rng(3)
    for colour in BODY_COLOURS:
        for shape in ("round", "square", "triangle", "diamond"):
            for pattern in ("plain", "stripes", "dots"):
                creature = Creature(shape, colour, str(rng.choice(["white", "gray"])), pattern)
                picture = Picture("night", ("sun",), (Placed(creature, "centre", "small"),))
                assert parse(draw(picture)) == picture


def test_an_empty_scene_has_no_creature() -> None:
    picture = Picture("grass", ("tree", "house"))
    assert parse(draw(picture)).creatures == ()


def test_captions_name_only_the_chosen_attributes() -> None:
    creature = Creature("round", "red", "white", "stripes")
    assert describe(creature, Named(shape=True)) == "a round creature"
    assert describe(creature, Named(colour=True, hat=True, pattern=True)) == (
        "a red creature with stripes and a white hat"
    )
    picture = Picture("night", ("tree",), (Placed(creature, "left", "small"),))
    assert caption(picture, (Named(shape=True),)) == (
        "a round creature, small, on the left, at night, with a tree"
    )


def test_every_world_word_is_one_token(tmp_path) -> None:
    write_tokenizer(tmp_path)
    tokenizer = CLIPTokenizer.from_pretrained(str(tmp_path), model_max_length=77)
    for word in words():
        assert len(tokenizer(word, add_special_tokens=False).input_ids) == 1, word
    assert tokenizer.unk_token_id not in tokenizer("a zebra").input_ids[1:-1]
