"""Fountain screenplays: each element's panel, dialogue, cast, transitions and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLES, run_cli

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.fountain import parse_fountain
from storyboard_app.project.scripts.names import tag_mentions
from storyboard_app.project.store import ProjectStore

SAMPLE = Path(__file__).resolve().parent / "data" / "two_rooms.fountain"


def test_sample_screenplay_makes_the_expected_board() -> None:
    script = parse_fountain(SAMPLE.read_text(), SAMPLE)
    assert script.title == "Two Rooms"
    assert [(c.name, c.description) for c in script.characters] == [
        ("Anna", "Anna"),
        ("Mr. Hale", "Mr. Hale"),
    ]
    prompts = [scene.prompt for scene in script.scenes]
    assert prompts == [
        "establishing shot, interior, kitchen, night",
        "[Anna] opens the fridge. It is empty, interior, kitchen, night",
        "establishing shot, exterior, street, continuous",
        "[Mr. Hale] waits under a lamp; [Anna] runs to him, exterior, street, continuous",
        "establishing shot, the attic",
        "[Anna] speaking, whispering, the attic",
    ]
    assert [scene.characters for scene in script.scenes] == [
        (),
        ("Anna",),
        (),
        ("Mr. Hale", "Anna"),
        (),
        ("Anna",),
    ]
    assert script.scenes[0].shot_type == "establishing"
    assert script.scenes[0].caption == "INT. KITCHEN - NIGHT"


def test_dialogue_goes_into_the_dialogue_of_its_moment() -> None:
    script = parse_fountain(SAMPLE.read_text(), SAMPLE)
    assert script.scenes[1].dialogue == "Anna (to herself): Nothing again. Not even milk."
    assert script.scenes[3].dialogue == "Mr. Hale: You are late.\nAnna (breathless): I know."
    assert script.scenes[5].dialogue == "Anna (whispering): Here it is."


def test_transitions_become_cuts_and_crossfades() -> None:
    scenes = parse_fountain(SAMPLE.read_text(), SAMPLE).scenes
    assert scenes[1].transition_to_next is not None
    assert scenes[1].transition_to_next.kind == "cut"
    assert scenes[3].transition_to_next is not None
    assert scenes[3].transition_to_next.kind == "crossfade"
    assert [s.transition_to_next for s in scenes if s not in (scenes[1], scenes[3])] == [None] * 4


def test_notes_boneyard_sections_and_centred_text_make_no_panels() -> None:
    script = parse_fountain(SAMPLE.read_text(), SAMPLE)
    words = " ".join(s.prompt + s.caption + s.dialogue for s in script.scenes)
    for hidden in ("OLD OPENING", "milk carton", "Act one", "synopsis", "THE END"):
        assert hidden not in words


def test_forced_elements() -> None:
    text = ".THE VAULT\n\n!ANNA\nlooks around.\n\n@McQueen\nHello.\n\n> SMASH CUT\n\nA door.\n"
    script = parse_fountain(text)
    assert [s.prompt for s in script.scenes] == [
        "establishing shot, the vault",
        "ANNA looks around, the vault",
        "A door, the vault",
    ]
    assert [c.name for c in script.characters] == ["McQueen"]
    assert script.scenes[1].dialogue == "McQueen: Hello."
    assert script.scenes[1].transition_to_next is not None
    assert script.scenes[1].transition_to_next.kind == "cut"


def test_cue_extensions_and_dual_marker_are_not_part_of_the_name() -> None:
    text = "INT. ROOM\n\nBOB sits.\n\nBOB (V.O.)\nHi.\n\nBOB (CONT'D) ^\nAgain.\n"
    script = parse_fountain(text)
    assert [c.name for c in script.characters] == ["Bob"]
    assert script.scenes[1].dialogue == "Bob: Hi.\nBob: Again."


def test_tag_mentions_whole_words_possessives_and_case() -> None:
    assert tag_mentions("ANNA's cat meets Annabel and anna", ["Anna"]) == (
        "[Anna]'s cat meets Annabel and anna",
        ("Anna",),
    )
    assert tag_mentions("nobody here", ["Anna"]) == ("nobody here", ())


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("INT. ROOM\n\nA chair.\n\n/* never closed\n", 5, "boneyard"),
        ("INT. ROOM\n\nA chair. [[ a note\n\n", 3, "note"),
        ("CUT TO:\n\nINT. ROOM\n", 1, "before any panel"),
        ("Title: Empty\n\n", 2, "no scene headings"),
        ("INT. ROOM\n\nA [ghost] waves.\n", 3, "'ghost'"),
    ],
)
def test_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_fountain(text, Path("bad.fountain"))
    assert caught.value.line == line
    assert words in caught.value.message


def test_cli_new_from_fountain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "new", tmp_path / "p", "--from", SAMPLE)
    assert (code, err) == (0, "")
    assert "2 characters and 6 panels" in out
    assert "Describe Anna, Mr. Hale" in out
    with ProjectStore.open(tmp_path / "p.storyboard") as store:
        scenes = store.scenes.list()
        assert scenes[1].dialogue.startswith("Anna (to herself)")
        assert [t.kind for t in store.transitions.list()] == ["cut", "crossfade"]


def test_cli_bad_fountain_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.fountain"
    script.write_text("INT. ROOM\n\nA chair. [[ a note\n")
    code, _out, err = run_cli(capsys, "new", tmp_path / "p", "--from", script)
    assert code == 1
    assert f"{script}:3:" in err and "Traceback" not in err
    assert not (tmp_path / "p.storyboard").exists()
    assert list(tmp_path.iterdir()) == [script]


def test_example_screenplay_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(
        capsys, "new", tmp_path / "e", "--from", EXAMPLES / "lighthouse.fountain"
    )
    assert code == 0 and "panels" in out
