"""The prompt a panel sends: the shot type in front, tags expanded, and where the Action lies."""

from __future__ import annotations

import pytest

from storyboard_app.project.prompts import (
    SHOT_PHRASES,
    compose_panel_prompt,
    expand_tags_mapped,
    panel_prompt,
    shot_phrase,
)
from storyboard_app.project.settings import SHOT_TYPES, ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.tags import expand_tags

DESCRIPTIONS = {"Mara": "a woman with red hair", "Bob": "an old man"}


@pytest.mark.parametrize(
    "prompt",
    [
        "[Mara] climbs the stairs",
        "  at dawn [Mara]  greets [Bob] ,  [Mara] smiles  ",
        "[NC]  a storm   over the sea",
        "[Zed] is unknown, [NC]",
        "\tline one\n\nline  two [Bob]",
        "",
    ],
)
def test_mapped_expansion_is_expand_tags_with_each_letter_traced(prompt: str) -> None:
    text, origins = expand_tags_mapped(prompt, DESCRIPTIONS)
    assert text == expand_tags(prompt, DESCRIPTIONS)
    assert len(origins) == len(text)
    for letter, origin in zip(text, origins, strict=True):
        source = prompt[origin]
        assert source == letter or source == "[" or (letter == " " and source.isspace())


def test_every_shot_type_has_words_and_the_setting_turns_them_off() -> None:
    assert set(SHOT_PHRASES) == {s for s in SHOT_TYPES if s}
    on, off = ProjectSettings(), ProjectSettings(shot_in_prompt=False)
    assert on.shot_in_prompt is True
    assert shot_phrase("close-up", on) == "close-up shot"
    assert shot_phrase("", on) == ""
    assert shot_phrase("close-up", off) == ""


def test_the_shot_leads_the_prompt_and_the_action_is_located(store: ProjectStore) -> None:
    store.characters.add("Mara", "a woman with red hair")
    scene = store.scenes.add("[Mara] opens  the door", shot_type="close-up")
    characters = {c.name: c for c in store.characters.list()}
    sent = panel_prompt(scene, characters, store.settings())
    assert sent.text == "close-up shot, a woman with red hair opens the door"
    assert sent.text[sent.action_start :].startswith("a woman with red hair")
    assert sent.action_offset(0) == 0  # in the shot words: all of the Action comes later
    assert sent.action_offset(sent.text.index("door")) == scene.prompt.index("door")
    assert sent.action_offset(sent.text.index("red")) == 0  # a description points at its tag
    off = store.update_settings(shot_in_prompt=False)
    assert panel_prompt(scene, characters, off).text == "a woman with red hair opens the door"


def test_style_words_after_the_action_are_not_in_the_action(store: ProjectStore) -> None:
    settings = store.update_settings(style_preset="ink drawing")
    sent = compose_panel_prompt("a lamp", (), "insert", {}, settings)
    assert sent.text == "insert shot, a lamp, ink drawing"
    assert sent.action_offset(sent.text.index("ink")) is None
    assert compose_panel_prompt("[NC]", (), "", {}, settings).action_start == -1
