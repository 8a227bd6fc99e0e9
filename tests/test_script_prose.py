"""Prose to panels by rules: one test per rule, the cast file, --panels and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import folder_digest, run_cli

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.model import CharacterSpec
from storyboard_app.project.scripts.prose import parse_prose
from storyboard_app.project.store import ProjectStore

STORY = """# The Lamp

Mara climbs the hill at dusk. She stops at the old gate, and the wind pulls at her coat.

"Is anyone there?" she called.

Tomas steps out of the shadow. "Only me," said Tomas. He lifts a lantern.

The valley is quiet around Mara.
"""
CAST = CharacterSpec("Mara", "a girl in a red coat")


def prompts(text: str, **options: object) -> list[tuple[str, tuple[str, ...]]]:
    script = parse_prose(text, **options)  # type: ignore[arg-type]
    return [(scene.prompt, scene.characters) for scene in script.scenes]


def test_each_sentence_is_a_beat_with_its_line() -> None:
    script = parse_prose(STORY)
    assert script.title == "The Lamp"
    assert [scene.line for scene in script.scenes] == [3, 3, 7, 7, 9]
    assert script.scenes[0].prompt == "[Mara] climbs the hill at dusk."


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert len(parse_prose("Mr. Hale met Dr. Ruiz at noon. Hale left.").scenes) == 2


def test_speech_leaves_the_prompt_and_joins_its_beat() -> None:
    scenes = parse_prose(STORY).scenes
    assert scenes[1].dialogue == "Mara: Is anyone there?"
    assert scenes[2].dialogue == "Tomas: Only me"
    assert '"' not in " ".join(scene.prompt for scene in scenes)
    assert len(scenes) == 5  # the two speech-only sentences made no panel of their own


def test_speech_inside_an_action_sentence_stays_on_that_beat() -> None:
    scene = parse_prose('Mara turns and says "Wait for me" to Mara\'s dog.').scenes[0]
    assert scene.dialogue == "Mara: Wait for me"
    assert scene.prompt == "[Mara] turns and says to Mara's dog."


def test_recurring_proper_names_become_characters_to_describe() -> None:
    script = parse_prose("Mara waves. Tomas nods. Mara smiles. Paris is far.")
    assert [(c.name, c.description) for c in script.characters] == [("Mara", "Mara")]


def test_a_name_after_a_place_preposition_every_time_is_a_place() -> None:
    story = "Mara flies to Paris. In Paris, Mara waves. Near Rome she naps. Rome waits at Nice."
    script = parse_prose(story + " They drive from Nice into Nice.")
    assert [c.name for c in script.characters] == ["Mara", "Rome"]
    assert parse_prose("Mara flies to Paris. Mara waves.").scenes[0].prompt == (
        "[Mara] flies to Paris."
    )


def test_a_name_also_written_in_lower_case_is_not_a_character() -> None:
    script = parse_prose("Rose walks. Rose smiles. She picks a rose.")
    assert script.characters == ()


def test_matching_is_whole_word_case_insensitive_with_possessives() -> None:
    cast = [CharacterSpec("Ann", "a woman")]
    assert prompts("ANN's hat falls. Anne laughs. Annie runs.", cast=cast) == [
        ("[Ann]'s hat falls.", ("Ann",)),
        ("Anne laughs.", ()),
        ("Annie runs.", ()),
    ]


def test_a_pronoun_sentence_keeps_the_character_before_it() -> None:
    assert prompts("Mara climbs. She stops. The sky darkens. She waits.", cast=[CAST]) == [
        ("[Mara] climbs.", ("Mara",)),
        ("[Mara] stops.", ("Mara",)),
        ("The sky darkens.", ()),
        ("She waits.", ()),
    ]


def test_first_person_is_the_narrator_from_the_cast() -> None:
    cast = [CharacterSpec("Ilse", "an old sailor"), CAST]
    assert prompts("I watch the sea. Mara waves at my boat.", cast=cast) == [
        ("[Ilse] watch the sea.", ("Ilse",)),
        ("[Mara] waves at [Ilse]'s boat.", ("Mara", "Ilse")),
    ]
    chosen = prompts("I sing.", cast=cast, narrator="Mara")
    assert chosen == [("[Mara] sing.", ("Mara",))]


def test_first_person_without_a_cast_proposes_a_narrator() -> None:
    script = parse_prose("I wake up early.")
    assert [c.name for c in script.characters] == ["Narrator"]
    assert script.scenes[0].characters == ("Narrator",)


def test_nobody_named_is_a_no_character_panel() -> None:
    assert prompts("Rain falls on the roofs.") == [("Rain falls on the roofs.", ())]


def test_panels_merges_neighbours_and_keeps_each_sentences_characters() -> None:
    script = parse_prose(STORY, panels=2)
    assert [scene.characters for scene in script.scenes] == [("Mara",), ("Tomas", "Mara")]
    assert script.scenes[0].prompt.count("[Mara]") == 1
    assert "Mara stops" in script.scenes[0].prompt


def test_panels_splits_long_beats_at_clause_breaks() -> None:
    scenes = parse_prose("Mara opens the door; the wind blows in, and the lamp goes out.", panels=3)
    assert [scene.prompt for scene in scenes.scenes] == [
        "Mara opens the door",
        "The wind blows in",
        "The lamp goes out.",
    ]


def test_square_brackets_in_prose_are_not_tags() -> None:
    assert prompts("A sign reads [closed].") == [("A sign reads (closed).", ())]


def test_empty_story_names_its_last_line() -> None:
    with pytest.raises(ScriptError) as caught:
        parse_prose("# Only a title\n\n", Path("s.md"))
    assert caught.value.line == 2 and "no sentences" in caught.value.message


def test_cli_new_from_prose_with_cast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    story = tmp_path / "story.md"
    story.write_text(STORY)
    cast = tmp_path / "cast.toml"
    cast.write_text('[[characters]]\nname = "Mara"\ndescription = "a girl in a red coat"\n')
    code, out, err = run_cli(
        capsys, "new", tmp_path / "p", "--from-prose", story, "--cast", cast, "--panels", "3"
    )
    assert (code, err) == (0, "")
    assert "1 character and 3 panels" in out and "Describe" not in out
    with ProjectStore.open(tmp_path / "p.storyboard") as store:
        assert [c.name for c in store.characters.list()] == ["Mara"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from-prose", "story.md", "--panels", "0"], "--panels 0"),
        (["--cast", "x.toml"], "only work with --from-prose"),
        (["--from-prose", "missing.md"], "does not exist"),
        (["--from-prose", "story.md", "--cast", "bad.toml"], "bad.toml:2"),
        (["--from-prose", "story.md", "--cast", "empty.toml"], "no characters"),
        (["--from-prose", "story.md", "--from", "story.md"], "cannot be used together"),
        (["--from-prose", "story.md", "--cast", "cast.toml", "--narrator", "Zed"], "Zed"),
    ],
)
def test_cli_bad_prose_input_is_one_message_and_nothing_made(
    args: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "story.md").write_text(STORY)
    (tmp_path / "bad.toml").write_text('[[characters]]\nname = "Mara\n')
    (tmp_path / "empty.toml").write_text('title = "nobody"\n')
    (tmp_path / "cast.toml").write_text('[[characters]]\nname = "Mara"\ndescription = "a girl"\n')
    before = folder_digest(tmp_path)
    paths = [str(tmp_path / a) if a.endswith((".md", ".toml")) else a for a in args]
    code, _out, err = run_cli(capsys, "new", tmp_path / "p", *paths)
    assert code != 0 and words in err and "Traceback" not in err
    assert err.startswith("error: ") and "\nerror" not in err
    assert folder_digest(tmp_path) == before


def test_a_named_speech_tag_says_who_speaks_and_puts_them_in_the_panel() -> None:
    cast = [CAST, CharacterSpec("Tomas", "a tall fisherman")]
    scene = parse_prose('Mara waits. "Hi," said Tomas.', cast=cast).scenes[0]
    assert scene.dialogue == "Tomas: Hi"
    assert scene.characters == ("Mara", "Tomas")


def test_speech_before_any_action_is_a_speaking_panel() -> None:
    assert prompts('"Hi," said Mara. Mara waves.', cast=[CAST])[0] == (
        "[Mara] speaking",
        ("Mara",),
    )
    assert prompts('"Hello."') == [("someone speaking", ())]


def test_prose_given_to_from_points_at_from_prose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "story.md"
    story.write_text(STORY)
    code, _out, err = run_cli(capsys, "new", tmp_path / "p", "--from", story)
    assert code == 1 and "unknown story script type '.md'" in err and "--from-prose" in err
