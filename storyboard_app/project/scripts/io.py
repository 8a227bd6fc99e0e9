"""Loading story scripts from disk, and the checks both script formats share.

The TOML and the StoryDiffusion text parsers only read syntax; what makes a story
valid (unique names, defined characters, non-empty prompts, sane numbers) is
decided here once, so both formats reject the same stories with the same words.
Each format passes a :class:`Locate` so an error still points at the right line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple, NoReturn, Protocol

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.ip_adapters import find_kind
from storyboard_app.project.scripts.model import (
    CharacterSpec,
    SceneSpec,
    StoryScript,
    TransitionSpec,
)
from storyboard_app.project.settings import SHOT_TYPES, TRANSITION_KINDS
from storyboard_app.project.tags import NO_CHARACTER_TAG, TAG_PATTERN, find_tags

TEXT_SUFFIXES = (".txt", ".story")
TOML_SUFFIXES = (".toml",)
FOUNTAIN_SUFFIXES = (".fountain", ".spmd")
MAX_SEED = 2**63 - 1
MAX_SCRIPT_BYTES = 5_000_000
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
NAME_PATTERN = re.compile(r"[^\[\]#\n]+")

Parser = Callable[[str, Path | None], StoryScript]


class Position(NamedTuple):
    """Where in a script file something is; either part may be unknown."""

    line: int | None
    column: int | None = None


class Locate(Protocol):
    """Finds a value in the script text: ``table`` is "characters", "scenes",
    "settings" or "" (the top level), ``index`` counts from 0, ``key`` names the
    field (dotted for nested ones) and ``needle`` a word to point at."""

    def __call__(self, table: str, index: int, key: str = "", needle: str = "") -> Position: ...


def load_story_script(path: Path) -> StoryScript:
    """Read and parse the story at ``path``, picking the format by its suffix.

    Reference images are resolved against the script's folder here, not in the
    parsers, so parsing stays a pure function of the text.
    """
    path = Path(path)
    parse = _parser_for(path)
    script = parse(read_script_text(path), path)
    return _with_resolved_references(script, path)


def read_script_text(path: Path) -> str:
    """The file as text, with every failure turned into a message for the artist."""
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise ScriptError(
                path,
                None,
                f"the story script is {size / 1_000_000:.1f} MB; scripts over "
                f"{MAX_SCRIPT_BYTES // 1_000_000} MB are refused",
                "Check that this is the right file; a story script is a small text file.",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError(
            path, None, "the story script does not exist", "Check the file name and folder."
        ) from None
    except OSError as error:
        raise ScriptError(
            path, None, f"the story script cannot be read ({error.strerror})", "Check the path."
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _byte_position(data, error.start)
        raise ScriptError(
            path,
            line,
            "the story script is not UTF-8 text",
            "Save the file as UTF-8 in your text editor.",
            column=column,
        ) from None


def _byte_position(data: bytes, offset: int) -> Position:
    """Line and column (in bytes) of ``offset``, for pointing at a bad byte."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return Position(data.count(b"\n", 0, offset) + 1, offset - line_start + 1)


def _parser_for(path: Path) -> Parser:
    """The parser for ``path``'s suffix.

    The parsers import the checks from this module, so they are imported here,
    when needed, rather than at the top.
    """
    suffix = path.suffix.lower()
    if suffix in TOML_SUFFIXES:
        from storyboard_app.project.scripts.toml_format import parse_story_toml

        return parse_story_toml
    if suffix in TEXT_SUFFIXES:
        from storyboard_app.project.scripts.text import parse_story_text

        return parse_story_text
    if suffix in FOUNTAIN_SUFFIXES:
        from storyboard_app.project.scripts.fountain import parse_fountain

        return parse_fountain
    raise ScriptError(
        path,
        None,
        f"unknown story script type '{path.suffix or '(no suffix)'}'",
        "Name the file .toml for a TOML story, .txt / .story for StoryDiffusion's text format, "
        "or .fountain for a screenplay; a story in prose (.md) is read by "
        "'storyboard new --from-prose' or File > New from Story….",
    )


def _with_resolved_references(script: StoryScript, path: Path) -> StoryScript:
    """Make each reference image (and local IP-Adapter file) absolute; check the images."""
    folder = path.parent.absolute()
    characters = tuple(_resolve_reference(c, folder, path) for c in script.characters)
    return replace(script, characters=characters)


def _resolve_reference(character: CharacterSpec, folder: Path, path: Path) -> CharacterSpec:
    if character.ip_adapter and find_kind(character.ip_adapter) is None:
        adapter = (folder / Path(character.ip_adapter).expanduser()).resolve()
        character = replace(character, ip_adapter=str(adapter))
    if character.reference_image is None:
        return character
    image = (folder / character.reference_image).resolve()
    if not image.is_file():
        raise ScriptError(
            path,
            character.line,
            f"the reference image of {character.name}, '{character.reference_image}', "
            f"does not exist (looked for {image})",
            "Give the path of an image file relative to the script's folder.",
        )
    return replace(character, reference_image=image)


def title_from_path(path: Path | None) -> str:
    """``forest_treasure.txt`` -> ``Forest Treasure``: a readable default title."""
    if path is None:
        return "Untitled story"
    words = re.sub(r"[_\-.]+", " ", Path(path).stem).split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or "Untitled story"


def spec_positions(characters: Sequence[CharacterSpec], scenes: Sequence[SceneSpec]) -> Locate:
    """A :class:`Locate` that knows only the ``line`` each spec was read from."""

    def locate(table: str, index: int, key: str = "", needle: str = "") -> Position:
        specs: Sequence[CharacterSpec | SceneSpec] = (
            characters if table == "characters" else scenes if table == "scenes" else ()
        )
        return Position(specs[index].line if 0 <= index < len(specs) else None)

    return locate


def validate_story(
    script: StoryScript, path: Path | None = None, locate: Locate | None = None
) -> None:
    """Raise :class:`ScriptError` at the first thing that makes ``script`` unusable."""
    locate = locate or spec_positions(script.characters, script.scenes)
    validate_characters(script.characters, path, locate)
    names = [character.name for character in script.characters]
    for index, scene in enumerate(script.scenes):
        validate_scene(scene, index, names, path, locate)


def validate_characters(
    characters: Sequence[CharacterSpec], path: Path | None, locate: Locate
) -> None:
    """Names usable as tags and unique, descriptions present, seed and colour sane."""
    first_index: dict[str, int] = {}
    for index, character in enumerate(characters):
        _check_character(character, index, path, locate)
        if character.name in first_index:
            first = locate("characters", first_index[character.name], "name")
            fail_at(
                path,
                locate("characters", index, "name"),
                f"character '{character.name}' is defined twice"
                + (f" (first on line {first.line})" if first.line is not None else ""),
                "Give each character a unique name, or remove the second definition.",
            )
        first_index[character.name] = index


def _check_character(
    character: CharacterSpec, index: int, path: Path | None, locate: Locate
) -> None:
    name = character.name
    if not NAME_PATTERN.fullmatch(name) or name != name.strip():
        fail_at(
            path,
            locate("characters", index, "name"),
            f"character name '{name}' cannot be used as a tag",
            "Use a name without [ ] or #, with no spaces around it, e.g. 'Mara'.",
        )
    if name == NO_CHARACTER_TAG:
        fail_at(
            path,
            locate("characters", index, "name"),
            f"a character cannot be named {NO_CHARACTER_TAG}",
            f"Rename the character: [{NO_CHARACTER_TAG}] marks panels without characters.",
        )
    if not character.description.strip():
        fail_at(
            path,
            locate("characters", index, "description"),
            f"character '{name}' has an empty description",
            f"Describe how {name} looks, e.g. 'a tall man with a grey beard, wearing a blue coat'.",
        )
    if character.color is not None and not COLOR_PATTERN.fullmatch(character.color):
        fail_at(
            path,
            locate("characters", index, "color"),
            f"colour '{character.color}' of character '{name}' is not a #rrggbb colour",
            "Write the colour as # and six hex digits, e.g. '#e4572e'.",
        )
    _check_seed(character.seed, path, locate("characters", index, "seed"))


def validate_scene(
    scene: SceneSpec, index: int, names: Sequence[str], path: Path | None, locate: Locate
) -> None:
    """A prompt with content, only defined characters, valid shot, timing and seed."""
    check_prompt(scene.prompt, index, path, locate("scenes", index, "prompt"))
    _check_scene_characters(scene, index, names, path, locate)
    if scene.shot_type not in SHOT_TYPES:
        fail_at(
            path,
            locate("scenes", index, "shot"),
            f"scene {index + 1} has an unknown shot type '{scene.shot_type}'",
            "Use one of: " + ", ".join(s for s in SHOT_TYPES if s) + ".",
        )
    if scene.duration is not None and not _is_positive(scene.duration):
        fail_at(
            path,
            locate("scenes", index, "duration"),
            f"scene {index + 1} has a duration of {scene.duration} seconds",
            "Use a duration in seconds greater than 0, e.g. 2.5.",
        )
    _check_seed(scene.seed, path, locate("scenes", index, "seed"))
    if scene.transition_to_next is not None:
        _check_transition(scene.transition_to_next, index, path, locate)


def check_prompt(prompt: str, index: int, path: Path | None, position: Position) -> None:
    """A prompt made only of tags renders the characters' descriptions and nothing
    of the panel, which is never what the artist meant."""
    if not TAG_PATTERN.sub("", prompt).strip():
        fail_at(
            path,
            position,
            f"scene {index + 1} has an empty prompt",
            "Describe what happens in the panel, e.g. '[Mara] climbs the stairs at night'.",
        )


def _check_scene_characters(
    scene: SceneSpec, index: int, names: Sequence[str], path: Path | None, locate: Locate
) -> None:
    used = dict.fromkeys([*scene.characters, *find_tags(scene.prompt)])
    used.pop(NO_CHARACTER_TAG, None)
    for name in used:
        if name not in names:
            defined = ", ".join(names) if names else "none"
            fail_at(
                path,
                locate("scenes", index, "characters", name),
                f"scene {index + 1} names '{name}', which is not a defined character "
                f"(defined: {defined})",
                f"Define {name} with the other characters, or fix the spelling.",
            )


def _check_transition(
    transition: TransitionSpec, index: int, path: Path | None, locate: Locate
) -> None:
    if transition.kind not in TRANSITION_KINDS:
        fail_at(
            path,
            locate("scenes", index, "transition.kind"),
            f"scene {index + 1} has an unknown transition '{transition.kind}'",
            "Use one of: " + ", ".join(TRANSITION_KINDS) + ".",
        )
    cut = transition.kind == "cut"
    if not (math.isfinite(transition.duration) and transition.duration >= 0) or (
        not cut and transition.duration == 0
    ):
        fail_at(
            path,
            locate("scenes", index, "transition.duration"),
            f"the transition after scene {index + 1} lasts {transition.duration} seconds",
            "Use a duration in seconds greater than 0 (only a cut may last 0).",
        )
    if transition.frames is not None and transition.frames < 1:
        fail_at(
            path,
            locate("scenes", index, "transition.frames"),
            f"the transition after scene {index + 1} has {transition.frames} frames",
            "Use at least 1 frame, or leave frames out to use the frame rate.",
        )


def split_no_character_tag(
    prompt: str, names: Sequence[str], path: Path | None, position: Position
) -> tuple[str, tuple[str, ...]]:
    """``[NC]`` means "nobody is in this panel": drop it from the prompt and names.

    Both formats share this so a panel cannot claim to be empty and name someone.
    """
    characters = tuple(name for name in names if name != NO_CHARACTER_TAG)
    if len(characters) == len(names):
        return prompt, characters
    if characters:
        fail_at(
            path,
            position,
            f"[{NO_CHARACTER_TAG}] marks a panel without characters, "
            f"but the panel also names {', '.join(characters)}",
            f"Remove [{NO_CHARACTER_TAG}], or remove the character tags.",
        )
    without = TAG_PATTERN.sub(
        lambda m: "" if m.group(1).strip() == NO_CHARACTER_TAG else m.group(0), prompt
    )
    return re.sub(r"\s{2,}", " ", without).strip(), ()


def _check_seed(seed: int | None, path: Path | None, position: Position) -> None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        fail_at(path, position, f"seed {seed} is out of range", "Use a non-negative integer seed.")


def _is_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def fail_at(path: Path | None, position: Position, problem: str, hint: str) -> NoReturn:
    """Raise a :class:`ScriptError` at ``position``; shared by the parsers."""
    raise ScriptError(path, position.line, problem, hint, column=position.column)
