"""The StoryDiffusion text syntax: the official demo, the example, and every error's place."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.text import parse_story_text

EXAMPLES = Path(__file__).resolve().parent.parent / "projects_example"

# Verbatim from the StoryDiffusion demo, including the space after "at night".
OFFICIAL_DEMO = """\
[Bob] A man, wearing a black suit
[Alice] a woman, wearing white shirt

[Bob] at home, read new paper #at home, The newspaper says there is a treasure house in the forest.
[Bob] on the road, near the forest
[Alice] is make a call at home # [Bob] invited [Alice] to join him on an adventure.
[NC]A tiger appeared in the forest, at night \n\
[NC] The car on the road, near the forest #They drives to the forest in search of treasure.
[Bob] and [Alice] running very fast, in the forest, at night
"""


def lines(*text: str) -> str:
    """A script written one line per argument, so the line numbers in a test are countable."""
    return "\n".join(text) + "\n"


def test_official_demo_characters() -> None:
    script = parse_story_text(OFFICIAL_DEMO, Path("treasure_hunt.txt"))
    assert script.title == "Treasure Hunt"
    assert [(c.name, c.description, c.line) for c in script.characters] == [
        ("Bob", "A man, wearing a black suit", 1),
        ("Alice", "a woman, wearing white shirt", 2),
    ]
    assert script.source == Path("treasure_hunt.txt")
    assert script.settings == {}


def test_official_demo_panels() -> None:
    scenes = parse_story_text(OFFICIAL_DEMO).scenes
    assert [(s.prompt, s.characters, s.caption, s.line) for s in scenes] == [
        (
            "[Bob] at home, read new paper",
            ("Bob",),
            "at home, The newspaper says there is a treasure house in the forest.",
            4,
        ),
        ("[Bob] on the road, near the forest", ("Bob",), "", 5),
        (
            "[Alice] is make a call at home",
            ("Alice",),
            "Bob invited Alice to join him on an adventure.",
            6,
        ),
        ("A tiger appeared in the forest, at night", (), "", 7),
        (
            "The car on the road, near the forest",
            (),
            "They drives to the forest in search of treasure.",
            8,
        ),
        (
            "[Bob] and [Alice] running very fast, in the forest, at night",
            ("Bob", "Alice"),
            "",
            9,
        ),
    ]


def test_forest_treasure_example() -> None:
    path = EXAMPLES / "forest_treasure.txt"
    script = parse_story_text(path.read_text(encoding="utf-8"), path)
    assert script.title == "Forest Treasure"
    assert [c.name for c in script.characters] == ["Bob", "Alice"]
    assert len(script.scenes) >= 10
    assert any(scene.characters == () for scene in script.scenes)
    assert any(set(scene.characters) == {"Bob", "Alice"} for scene in script.scenes)
    assert all("[NC]" not in scene.prompt for scene in script.scenes)


def test_comments_blank_lines_and_trailing_whitespace_are_ignored() -> None:
    text = lines(
        "",
        "   ",
        "// the cast",
        "[Bob] a man in a black suit   ",
        "// still the cast",
        "[Alice] a woman in a white shirt\t",
        "",
        "",
        "[Bob] reads  ",
        "",
        "  // a note between panels",
        "[Alice] calls #  a call  ",
    )
    script = parse_story_text(text)
    assert [(c.name, c.description, c.line) for c in script.characters] == [
        ("Bob", "a man in a black suit", 4),
        ("Alice", "a woman in a white shirt", 6),
    ]
    assert [(s.prompt, s.caption, s.line) for s in script.scenes] == [
        ("[Bob] reads", "", 9),
        ("[Alice] calls", "a call", 12),
    ]


def test_caption_is_after_the_last_hash() -> None:
    script = parse_story_text(lines("[Bob] a man", "", "[Bob] plays chess #1 #Check, [Bob]!"))
    assert script.scenes[0].prompt == "[Bob] plays chess #1"
    assert script.scenes[0].caption == "Check, Bob!"


def test_tags_repeat_and_appear_anywhere() -> None:
    script = parse_story_text(
        lines("[Bob] a man", "[Alice] a woman", "", "at dawn [Alice] greets [Bob], [Alice] smiles")
    )
    assert script.scenes[0].characters == ("Alice", "Bob")
    assert script.scenes[0].prompt == "at dawn [Alice] greets [Bob], [Alice] smiles"


def test_title_without_path() -> None:
    assert parse_story_text(lines("[Bob] a man", "", "[Bob] waves")).title == "Untitled story"


def test_windows_line_endings() -> None:
    script = parse_story_text("[Bob] a man\r\n\r\n[Bob] waves #hi\r\n")
    assert (script.scenes[0].prompt, script.scenes[0].caption) == ("[Bob] waves", "hi")


ERROR_CASES = {
    "empty file": ("\n\n", 1, None, "empty"),
    "definition without brackets": (lines("Bob a man", "", "[Bob] waves"), 1, 1, "[Bob]"),
    "definition with unclosed bracket": (lines("[Bob a man", "", "[Bob] waves"), 1, 1, "[Bob]"),
    "indented bad definition": (lines("  Bob: a man", "", "[Bob] waves"), 1, 3, "definition"),
    "empty description": (lines("[Bob]", "", "[Bob] waves"), 1, 6, "empty description"),
    "blank description": (lines("[Bob]    ", "", "[Bob] waves"), 1, 6, "empty description"),
    "duplicate name": (
        lines("[Bob] a man", "[Alice] a woman", "[Bob] another man", "", "[Bob] waves"),
        3,
        1,
        "first on line 1",
    ),
    "character named NC": (lines("[NC] nobody", "", "[NC] a forest"), 1, 1, "NC"),
    "definitions only": (lines("[Bob] a man", "[Alice] a woman"), 3, None, "blank line"),
    "definitions then blank lines only": (lines("[Bob] a man", "", "", "// x"), 2, None, "panels"),
    "missing blank line, caption": (
        lines("[Bob] a man", "[Bob] at home #reading"),
        2,
        15,
        "looks like a panel",
    ),
    "missing blank line, second tag": (
        lines("[Bob] a man", "[Alice] a woman", "[Alice] calls [Bob]"),
        3,
        15,
        "looks like a panel",
    ),
    "panel without tag": (lines("[Bob] a man", "", "Bob walks home"), 3, 1, "character tag"),
    "undefined character": (
        lines("[Bob] a man", "", "[Bob] meets [Carol]"),
        3,
        13,
        "'Carol', which is not a defined character (defined: Bob)",
    ),
    "undefined character after comments": (
        lines("", "// cast", "[Bob] a man", "", "// panels", "[Carol] waves"),
        6,
        1,
        "Carol",
    ),
    "NC with a character": (lines("[Bob] a man", "", "[Bob] and [NC] a forest"), 3, 11, "[NC]"),
    "tag and caption only": (lines("[Bob] a man", "", "[Bob] #a caption"), 3, 1, "empty prompt"),
    "caption only": (lines("[Bob] a man", "", "[Bob] waves", "#a caption"), 4, 1, "empty prompt"),
    "NC only": (lines("[Bob] a man", "", "[NC] # nothing"), 3, 1, "empty prompt"),
}


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"), ERROR_CASES.values(), ids=ERROR_CASES.keys()
)
def test_errors_name_file_line_and_column(
    text: str, line: int, column: int | None, expected: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_story_text(text, Path("story.txt"))
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert expected in error.problem
    assert error.hint
    where = f"story.txt:{line}" + (f":{column}" if column is not None else "")
    assert str(error).startswith(f"{where}: ")


def test_panel_without_tag_names_the_defined_characters() -> None:
    with pytest.raises(ScriptError) as caught:
        parse_story_text(lines("[Bob] a man", "[Alice] a woman", "", "they walk"))
    assert "Bob, Alice" in caught.value.hint
    assert "[NC]" in caught.value.hint


def test_the_hash_text_of_todays_scripts_is_narration_without_dialogue() -> None:
    scenes = parse_story_text(OFFICIAL_DEMO).scenes
    assert scenes[0].caption.startswith("at home, The newspaper says")
    assert all(scene.dialogue == "" for scene in scenes)


def test_each_dialogue_mark_starts_a_line_of_speech() -> None:
    text = lines(
        "[Bob] a man",
        "[Alice] a woman",
        "",
        "[Bob] plays chess #1 #The last game. #> [Bob]: Check! #> Alice: 待って 🙂",
        "[Alice] waves #> Hi",
    )
    first, second = parse_story_text(text).scenes
    assert (first.prompt, first.caption) == ("[Bob] plays chess #1", "The last game.")
    assert first.dialogue == "Bob: Check!\nAlice: 待って 🙂"
    assert (second.prompt, second.caption, second.dialogue) == ("[Alice] waves", "", "Hi")
