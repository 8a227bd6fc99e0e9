"""TOML stories: the example, the round trip, every error's place, and loading from disk."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from storyboard_app.project.errors import ScriptError, ValidationError
from storyboard_app.project.scripts.io import load_story_script, validate_story
from storyboard_app.project.scripts.model import (
    CharacterSpec,
    SceneSpec,
    StoryScript,
    TransitionSpec,
)
from storyboard_app.project.scripts.toml_format import dump_story_toml, parse_story_toml
from storyboard_app.project.story import create_project_from_script, export_story

EXAMPLES = Path(__file__).resolve().parent.parent / "projects_example"


def lines(*text: str) -> str:
    """A script written one line per argument, so the line numbers in a test are countable."""
    return "\n".join(text) + "\n"


# Lines 1-8 of most error cases: one character, one scene.
BASE = (
    'title = "Test"',
    "",
    "[[characters]]",
    'name = "Mara"',
    'description = "a woman with short red hair"',
    "",
    "[[scenes]]",
    'prompt = "[Mara] climbs the stairs"',
)


def without_positions(script: StoryScript) -> StoryScript:
    """The story as TOML can express it: where each spec was read is not part of it."""
    return dataclasses.replace(
        script,
        source=None,
        characters=tuple(dataclasses.replace(c, line=None) for c in script.characters),
        scenes=tuple(dataclasses.replace(s, line=None) for s in script.scenes),
    )


FULL_SCRIPT = StoryScript(
    title='The "Quoted" Keeper',
    characters=(
        CharacterSpec(
            name="Mara",
            description="a young woman with short red hair, green raincoat",
            negative_prompt="long hair",
            seed=42,
            color="#e4572e",
            reference_image=Path("refs/mara.png"),
            identity_framings=("portrait, looking at the viewer", "full body, in the rain"),
            reference_strength=0.4,
            ip_adapter="sdxl-plus-face",
            ip_adapter_scale=0.8,
        ),
        CharacterSpec(name="Tom", description="an old fisherman\nwith a white beard"),
    ),
    scenes=(
        SceneSpec(
            prompt="[Mara] climbs the spiral stairs",
            characters=("Mara", "Tom"),
            negative_prompt="blurry",
            caption="Every night: 117 steps = one climb",
            dialogue='Mara: "Again?"\nTom: 灯台はまだ光っている 🌊',
            notes="hold on the lamp",
            shot_type="medium close-up",
            duration=2.5,
            seed=7,
            seed_locked=True,
            transition_to_next=TransitionSpec(kind="crossfade", duration=0.75, frames=18),
        ),
        SceneSpec(prompt="the sea at night", transition_to_next=TransitionSpec()),
        SceneSpec(prompt="[Tom] and [Mara] wave", characters=("Tom", "Mara"), seed=0),
    ),
    settings={"width": 1152, "steps": 25, "guidance": 6.5, "blocks": ("up_blocks.0",)},
)


def test_lighthouse_example() -> None:
    path = EXAMPLES / "lighthouse_keeper.toml"
    script = parse_story_toml(path.read_text(encoding="utf-8"), path)
    assert script.title == "The Lighthouse Keeper"
    assert [c.name for c in script.characters] == ["Mara"]
    assert len(script.scenes) >= 8
    assert sum(1 for scene in script.scenes if scene.caption) >= 6
    assert all(scene.shot_type and scene.duration for scene in script.scenes)
    transitions = [s.transition_to_next for s in script.scenes if s.transition_to_next]
    assert len(transitions) >= 2
    assert {"width", "height"} <= script.settings.keys()


def test_minimal_story_defaults() -> None:
    script = parse_story_toml(lines(*BASE[2:]), Path("the_lighthouse-keeper.toml"))
    assert script.title == "The Lighthouse Keeper"
    assert script.characters == (
        CharacterSpec(name="Mara", description="a woman with short red hair", line=1),
    )
    assert script.scenes == (
        SceneSpec(prompt="[Mara] climbs the stairs", characters=("Mara",), line=5),
    )
    assert script.settings == {}


def test_scene_characters_are_the_list_then_the_prompt_tags() -> None:
    text = lines(
        *BASE[:6],
        "[[characters]]",
        'name = "Tom"',
        'description = "an old fisherman"',
        "[[scenes]]",
        'prompt = "[Mara] meets [Tom] by the sea, [Mara] smiles"',
        'characters = ["Tom"]',
    )
    assert parse_story_toml(text).scenes[0].characters == ("Tom", "Mara")


def test_no_character_tag_means_nobody() -> None:
    text = lines(*BASE[:6], "[[scenes]]", 'prompt = "[NC]  a storm over the sea"')
    scene = parse_story_toml(text).scenes[0]
    assert (scene.prompt, scene.characters) == ("a storm over the sea", ())


def test_settings_are_typed() -> None:
    text = lines("[settings]", "guidance = 7", 'blocks = ["up_blocks.0", "up_blocks.1"]', *BASE[2:])
    settings = parse_story_toml(text).settings
    assert settings == {"guidance": 7.0, "blocks": ("up_blocks.0", "up_blocks.1")}
    assert isinstance(settings["guidance"], float)


def test_transition_as_sub_table() -> None:
    text = lines(*BASE, "[scenes.transition]", 'kind = "morph"', "frames = 24")
    transition = parse_story_toml(text).scenes[0].transition_to_next
    assert transition == TransitionSpec(kind="morph", duration=0.5, frames=24)


def test_round_trip_with_every_field() -> None:
    text = dump_story_toml(FULL_SCRIPT)
    assert without_positions(parse_story_toml(text)) == FULL_SCRIPT


def test_dump_is_readable_toml() -> None:
    text = dump_story_toml(FULL_SCRIPT)
    assert text.startswith("#")
    assert text.count("\n[[scenes]]\n") == 3
    assert "transition = { kind = " in text
    assert tomllib.loads(text)["settings"]["blocks"] == ["up_blocks.0"]


def test_dump_leaves_out_characters_the_prompt_already_tags() -> None:
    script = StoryScript(
        title="T",
        characters=(CharacterSpec("Mara", "a woman"),),
        scenes=(SceneSpec("[Mara] waves", ("Mara",)),),
    )
    assert "characters = " not in dump_story_toml(script)


@pytest.mark.parametrize("name", ["lighthouse_keeper.toml", "forest_treasure.txt"])
def test_examples_round_trip_through_toml(name: str) -> None:
    script = load_story_script(EXAMPLES / name)
    again = parse_story_toml(dump_story_toml(script))
    assert without_positions(again) == without_positions(script)


ERROR_CASES = {
    "syntax error": (lines(*BASE[:3], "name = Mara"), 4, 8, "TOML syntax error: Invalid value"),
    "syntax error at the end": (lines(*BASE, "notes = [1,"), 9, None, "TOML syntax error"),
    "unknown top-level key": (lines('titel = "x"', *BASE[1:]), 1, 1, "unknown key 'titel'"),
    "unknown character key": (
        lines(*BASE[:5], 'colour = "#ffffff"', *BASE[5:]),
        6,
        1,
        "unknown key 'colour' in character 1",
    ),
    "unknown scene key": (lines(*BASE, 'shot_type = "wide"'), 9, 1, "unknown key 'shot_type'"),
    "unknown transition key": (
        lines(*BASE, 'transition = { kind = "cut", length = 2 }'),
        9,
        1,
        "unknown key 'length'",
    ),
    "missing name": (lines(*BASE[:3], *BASE[4:]), 3, None, "character 1 has no 'name'"),
    "missing prompt": (lines(*BASE[:7], 'caption = "x"'), 7, None, "scene 1 has no 'prompt'"),
    "title not a string": (lines("title = 3", *BASE[1:]), 1, 1, "must be a string"),
    "characters not tables": (lines('characters = ["Mara"]'), 1, 1, "character 1 must be a table"),
    "scenes not a list": (lines('scenes = "x"'), 1, 1, "must be a list"),
    "seed is a string": (lines(*BASE[:5], 'seed = "42"', *BASE[5:]), 6, 1, "must be an integer"),
    "seed is a boolean": (lines(*BASE, "seed = true"), 9, 1, "must be an integer"),
    "duration is a string": (lines(*BASE, 'duration = "long"'), 9, 1, "must be a number"),
    "seed_locked is a number": (lines(*BASE, "seed_locked = 1"), 9, 1, "true or false"),
    "characters not strings": (lines(*BASE, "characters = [1]"), 9, 1, "as strings"),
    "transition kind not a string": (
        lines(*BASE, "transition = { kind = 1 }"),
        9,
        1,
        "'kind' in the transition after scene 1 must be a string",
    ),
    "duplicate character": (
        lines(*BASE[:6], "[[characters]]", 'name = "Mara"', 'description = "another"', *BASE[6:]),
        8,
        1,
        "'Mara' is defined twice (first on line 4)",
    ),
    "character named NC": (
        lines(*BASE[:3], 'name = "NC"', *BASE[4:7], 'prompt = "[NC] the sea"'),
        4,
        1,
        "cannot be named NC",
    ),
    "name with brackets": (
        lines(*BASE[:3], 'name = "[Mara]"', *BASE[4:7], 'prompt = "the sea"'),
        4,
        1,
        "cannot be used as a tag",
    ),
    "empty description": (
        lines(*BASE[:4], 'description = "  "', *BASE[5:]),
        5,
        1,
        "empty description",
    ),
    "bad colour": (lines(*BASE[:5], 'color = "red"', *BASE[5:]), 6, 1, "#rrggbb"),
    "negative character seed": (lines(*BASE[:5], "seed = -1", *BASE[5:]), 6, 1, "out of range"),
    "undefined character in list": (
        lines(*BASE, 'characters = ["Mara", "Tom"]'),
        9,
        23,
        "'Tom', which is not a defined character (defined: Mara)",
    ),
    "undefined character in prompt": (
        lines(*BASE[:7], 'notes = "x"', 'prompt = "[Mara] meets [Tom]"'),
        9,
        24,
        "'Tom'",
    ),
    "NC with a character": (
        lines(*BASE[:7], 'prompt = "[NC] the sea"', 'characters = ["Mara"]'),
        8,
        1,
        "[NC] marks a panel without characters",
    ),
    "empty prompt": (lines(*BASE[:7], 'prompt = ""'), 8, 1, "empty prompt"),
    "prompt of tags only": (lines(*BASE[:7], 'prompt = "[Mara] [NC]"'), 8, 1, "[NC]"),
    "prompt of one tag": (lines(*BASE[:7], 'prompt = " [Mara] "'), 8, 1, "empty prompt"),
    "bad shot": (lines(*BASE, 'shot = "zoom"'), 9, 1, "unknown shot type 'zoom'"),
    "zero duration": (lines(*BASE, "duration = 0"), 9, 1, "duration of 0.0 seconds"),
    "infinite duration": (lines(*BASE, "duration = inf"), 9, 1, "duration of inf"),
    "negative scene seed": (lines(*BASE, "seed = -5"), 9, 1, "seed -5 is out of range"),
    "bad transition kind": (
        lines(*BASE, 'transition = { kind = "wipe" }'),
        9,
        1,
        "unknown transition 'wipe'",
    ),
    "bad transition kind in a sub-table": (
        lines(*BASE, "", "[scenes.transition]", "duration = 1.0", 'kind = "wipe"'),
        12,
        1,
        "unknown transition 'wipe'",
    ),
    "zero-length crossfade": (
        lines(*BASE, 'transition = { kind = "crossfade", duration = 0 }'),
        9,
        1,
        "lasts 0.0 seconds",
    ),
    "zero frames": (
        lines(*BASE, 'transition = { kind = "morph", frames = 0 }'),
        9,
        1,
        "has 0 frames",
    ),
    "second scene is wrong": (
        lines(*BASE, "", "[[scenes]]", 'prompt = "[Mara] waves"', 'shot = "closeup"'),
        12,
        1,
        "scene 2 has an unknown shot type",
    ),
    "unknown setting": (
        lines(BASE[0], "[settings]", "widht = 1024", *BASE[1:]),
        3,
        1,
        "unknown key 'widht' in settings",
    ),
    "setting of the wrong type": (
        lines(BASE[0], "[settings]", "width = 1024", 'steps = "many"', *BASE[1:]),
        4,
        1,
        "must be an integer",
    ),
    "invalid setting": (
        lines(BASE[0], "[settings]", "steps = 30", "width = 1030", *BASE[1:]),
        4,
        1,
        "invalid setting 'width': Image width 1030 is not usable.",
    ),
    "invalid consistency setting": (
        lines(BASE[0], "[settings] # render", "sampling_rate = 1.5", *BASE[1:]),
        3,
        1,
        "sampling rate 1.5 is out of range",
    ),
    "blocks not a list": (
        lines(BASE[0], "[settings]", 'blocks = "up_blocks"', *BASE[1:]),
        3,
        1,
        "must be a list of strings",
    ),
}


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"), ERROR_CASES.values(), ids=ERROR_CASES.keys()
)
def test_errors_name_file_line_and_column(
    text: str, line: int | None, column: int | None, expected: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_story_toml(text, Path("story.toml"))
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert expected in error.problem
    assert error.hint
    where = "story.toml" + (f":{line}" if line else "") + (f":{column}" if column else "")
    assert str(error).startswith(f"{where}: ")


def test_unknown_key_suggests_and_lists_allowed_keys() -> None:
    with pytest.raises(ScriptError) as caught:
        parse_story_toml(lines(*BASE, 'captoin = "x"'))
    assert "Did you mean 'caption'?" in caught.value.hint
    assert "seed_locked" in caught.value.hint


def test_undefined_character_points_at_the_characters_line() -> None:
    with pytest.raises(ScriptError) as caught:
        parse_story_toml(lines(*BASE[:7], 'characters = ["Tom"]', 'prompt = "[Mara] waves"'))
    assert (caught.value.line, caught.value.column) == (8, 15)


def test_validate_story_uses_spec_lines() -> None:
    script = StoryScript(
        title="T",
        characters=(CharacterSpec("Mara", "a woman", line=3),),
        scenes=(SceneSpec("[Mara] waves", ("Mara",), line=7), SceneSpec("[Tom] sits", line=9)),
    )
    with pytest.raises(ScriptError) as caught:
        validate_story(script, Path("story.toml"))
    assert (caught.value.line, caught.value.column) == (9, None)
    assert "'Tom'" in caught.value.problem


def test_validate_story_accepts_a_good_story() -> None:
    validate_story(FULL_SCRIPT)


# load_story_script: the format by suffix, and files that cannot be read.


@pytest.mark.parametrize("name", ["story.toml", "STORY.TOML"])
def test_load_toml(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(lines(*BASE), encoding="utf-8")
    script = load_story_script(path)
    assert script.title == "Test"
    assert script.source == path


@pytest.mark.parametrize("name", ["bob.txt", "bob.story"])
def test_load_text(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("[Bob] a man\n\n[Bob] waves\n", encoding="utf-8")
    script = load_story_script(path)
    assert (script.title, script.scenes[0].prompt) == ("Bob", "[Bob] waves")


def test_load_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("[Bob] a man\n\n[Bob] waves\n", encoding="utf-8")
    with pytest.raises(ScriptError) as caught:
        load_story_script(path)
    assert "'.md'" in caught.value.problem
    assert ".toml" in caught.value.hint and ".txt" in caught.value.hint


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ScriptError) as caught:
        load_story_script(path)
    assert str(caught.value).startswith(f"{path}: the story script does not exist")


def test_load_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "cafe.txt"
    path.write_bytes(b"[Bob] a man\n\n[Bob] at the caf\xe9\n")
    with pytest.raises(ScriptError) as caught:
        load_story_script(path)
    assert (caught.value.line, caught.value.column) == (3, 17)
    assert "UTF-8" in caught.value.problem


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "story.toml"
    path.write_bytes(b"\xef\xbb\xbf" + lines(*BASE).encode())
    assert load_story_script(path).title == "Test"


def test_load_resolves_reference_images(tmp_path: Path) -> None:
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "mara.png").write_bytes(b"png")
    path = tmp_path / "story.toml"
    path.write_text(
        lines(*BASE[:5], 'reference_image = "refs/mara.png"', *BASE[5:]), encoding="utf-8"
    )
    character = load_story_script(path).characters[0]
    assert character.reference_image == (tmp_path / "refs" / "mara.png").resolve()
    assert parse_story_toml(path.read_text()).characters[0].reference_image == Path("refs/mara.png")


def test_load_missing_reference_image(tmp_path: Path) -> None:
    path = tmp_path / "story.toml"
    path.write_text(
        lines(*BASE[:5], 'reference_image = "refs/mara.png"', *BASE[5:]), encoding="utf-8"
    )
    with pytest.raises(ScriptError) as caught:
        load_story_script(path)
    assert caught.value.line == 3
    assert "refs/mara.png" in caught.value.problem and "Mara" in caught.value.problem


def test_load_examples() -> None:
    for path in sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.txt")):
        assert load_story_script(path).scenes


def test_cast_without_scenes_round_trips() -> None:
    """A project with characters but no panels yet exports and imports back."""
    text = lines('title = "Cast"', "[[characters]]", 'name = "Mara"', 'description = "a woman"')
    script = parse_story_toml(text)
    assert script.scenes == ()
    back = parse_story_toml(dump_story_toml(script))
    assert [dataclasses.replace(c, line=None) for c in back.characters] == [
        dataclasses.replace(c, line=None) for c in script.characters
    ]


def test_identity_framings_are_read_and_checked() -> None:
    script = parse_story_toml(
        lines(*BASE[:5], 'identity_framings = ["profile view", "  ", "full body"]', *BASE[5:])
    )
    assert script.characters[0].identity_framings == ("profile view", "full body")
    with pytest.raises(ScriptError, match="list of strings") as caught:
        parse_story_toml(lines(*BASE[:5], "identity_framings = [1, 2]", *BASE[5:]))
    assert caught.value.line == 6
    with pytest.raises(ScriptError, match="at most 8"):
        parse_story_toml(
            lines(*BASE[:5], f"identity_framings = {[str(i) for i in range(9)]}", *BASE[5:])
        )


def test_a_projects_identity_framings_survive_export_and_import(tmp_path: Path) -> None:
    mara, tom = FULL_SCRIPT.characters
    script = dataclasses.replace(
        FULL_SCRIPT, characters=(dataclasses.replace(mara, reference_image=None), tom)
    )
    with create_project_from_script(tmp_path / "a", script) as store:
        assert store.characters.get("Mara").identity_framings == (
            "portrait, looking at the viewer",
            "full body, in the rain",
        )
        assert store.characters.get("Tom").identity_framings == ()
        text = dump_story_toml(export_story(store))
    assert 'identity_framings = ["portrait, looking at the viewer"' in text
    with create_project_from_script(tmp_path / "b", parse_story_toml(text)) as again:
        assert again.characters.get("Mara").identity_framings[1] == "full body, in the rain"


def test_a_projects_ip_adapters_survive_export_and_import(tmp_path: Path) -> None:
    adapter = tmp_path / "adapters" / "face.safetensors"
    adapter.parent.mkdir()
    adapter.write_bytes(b"{}")
    mara, tom = FULL_SCRIPT.characters
    tom = dataclasses.replace(tom, ip_adapter=str(adapter), ip_adapter_scale=0.0)
    script = dataclasses.replace(
        FULL_SCRIPT, characters=(dataclasses.replace(mara, reference_image=None), tom)
    )
    with create_project_from_script(tmp_path / "a", script) as store:
        assert store.characters.get("Mara").ip_adapter == "sdxl-plus-face"
        assert store.characters.get("Mara").ip_adapter_scale == 0.8
        assert store.characters.get("Tom").ip_adapter == str(adapter.resolve())
        text = dump_story_toml(export_story(store))
    assert 'ip_adapter = "sdxl-plus-face"' in text
    assert "ip_adapter_scale = 0.8" in text
    with create_project_from_script(tmp_path / "b", parse_story_toml(text)) as again:
        assert again.characters.get("Tom").ip_adapter == str(adapter.resolve())
        assert (
            again.characters.get("Tom").ip_adapter_scale,
            again.characters.get("Mara").ip_adapter_scale,
        ) == (0.0, 0.8)


def test_a_relative_ip_adapter_file_is_read_from_the_scripts_folder(tmp_path: Path) -> None:
    (tmp_path / "face.safetensors").write_bytes(b"{}")
    script_file = tmp_path / "story.toml"
    script_file.write_text(lines(*BASE[:5], 'ip_adapter = "face.safetensors"', *BASE[5:]))
    script = load_story_script(script_file)
    assert script.characters[0].ip_adapter == str((tmp_path / "face.safetensors").resolve())


def test_an_unknown_ip_adapter_is_refused_on_import(tmp_path: Path) -> None:
    script = dataclasses.replace(
        FULL_SCRIPT,
        characters=(dataclasses.replace(FULL_SCRIPT.characters[1], ip_adapter="sd99"),),
    )
    with pytest.raises(ValidationError, match="neither a known kind"):
        create_project_from_script(tmp_path / "a", script)


def test_size_auto_reads_and_writes_as_a_word() -> None:
    script = parse_story_toml(
        lines(BASE[0], "[settings]", 'width = "auto"', "height = 512", *BASE[1:])
    )
    assert script.settings == {"width": 0, "height": 512}
    assert 'width = "auto"' in dump_story_toml(script)
    assert parse_story_toml(dump_story_toml(script)).settings == script.settings


def test_narration_and_action_are_other_names_for_caption_and_prompt() -> None:
    script = parse_story_toml(
        lines(
            *BASE[:7],
            'action = "[Mara] climbs the stairs"',
            'narration = "The lamp is out."',
            'dialogue = """Mara: Who is there?',
            'Tom: Only me."""',
        )
    )
    scene = script.scenes[0]
    assert (scene.prompt, scene.characters) == ("[Mara] climbs the stairs", ("Mara",))
    assert scene.caption == "The lamp is out."
    assert scene.dialogue == "Mara: Who is there?\nTom: Only me."
    again = dump_story_toml(script)
    assert 'caption = "The lamp is out."' in again and "narration" not in again
    assert without_positions(parse_story_toml(again)) == without_positions(script)


def test_todays_scripts_read_without_dialogue() -> None:
    scene = parse_story_toml(lines(*BASE, 'caption = "Rain."')).scenes[0]
    assert (scene.caption, scene.dialogue) == ("Rain.", "")
    assert "dialogue" not in dump_story_toml(parse_story_toml(lines(*BASE)))


@pytest.mark.parametrize(("key", "alias"), [("caption", "narration"), ("prompt", "action")])
def test_a_field_and_its_other_name_together_are_refused(key: str, alias: str) -> None:
    both = (f'{key} = "[Mara] one"', f'{alias} = "[Mara] two"')
    script = lines(*BASE, *both) if key != "prompt" else lines(*BASE[:7], *both)
    with pytest.raises(ScriptError) as caught:
        parse_story_toml(script)
    assert f"both '{key}' and '{alias}'" in caught.value.problem
    assert caught.value.line == script.splitlines().index(both[1]) + 1


def test_dialogue_survives_a_project_round_trip(tmp_path: Path) -> None:
    script = parse_story_toml(
        lines(*BASE, 'narration = "夜。"', 'dialogue = "Mara: Who is there? 👀"')
    )
    with create_project_from_script(tmp_path / "a", script) as store:
        scene = store.scenes.at(1)
        assert (scene.caption, scene.dialogue) == ("夜。", "Mara: Who is there? 👀")
        text = dump_story_toml(export_story(store))
    assert parse_story_toml(text).scenes[0].dialogue == "Mara: Who is there? 👀"
