"""StoryDiffusion's plain story syntax, so stories written for the official demo open here.

One file: a block of character definitions (``[Bob] a man in a black suit``), a
blank line, then one panel per line. ``[Name]`` tags mark who is in a panel,
``[NC]`` marks a panel without characters, and the text after the last ``#`` is
the caption (the panel's narration). Lines starting with ``//`` are comments.

Dialogue is this app's addition: each ``#>`` starts a line of speech, drawn as a
balloon (``[Bob] at home #Bob reads #> Bob: Not again!``). Scripts written for the
demo never contain ``#>``, so they read exactly as they always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import dropwhile
from pathlib import Path

from storyboard_app.project.scripts.io import (
    Position,
    check_prompt,
    fail_at,
    split_no_character_tag,
    title_from_path,
    validate_characters,
    validate_scene,
)
from storyboard_app.project.scripts.model import CharacterSpec, SceneSpec, StoryScript
from storyboard_app.project.tags import (
    NO_CHARACTER_TAG,
    TAG_PATTERN,
    find_tags,
    strip_tag_brackets,
)

COMMENT_PREFIX = "//"
CAPTION_MARK = "#"
DIALOGUE_MARK = "#>"
DEFINITION_PATTERN = re.compile(r"\[([^\[\]#\n]+)\]\s*(.*)")
EXAMPLE_DEFINITION = "[Bob] a man wearing a black suit"


@dataclass(frozen=True)
class _Line:
    """A line of the script, numbered from 1, without trailing whitespace."""

    number: int
    text: str

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip())


def parse_story_text(text: str, path: Path | None = None) -> StoryScript:
    """Parse a StoryDiffusion story; raise :class:`ScriptError` at the first problem."""
    definitions, panels = _split_blocks(_read_lines(text), path)
    where = _TextPositions(definitions, panels)
    characters = tuple(_read_definition(line, path) for line in definitions)
    validate_characters(characters, path, where)
    _require_panels(definitions, panels, path)
    names = [character.name for character in characters]
    scenes: list[SceneSpec] = []
    for index, line in enumerate(panels):
        scene = _read_panel(line, index, names, path)
        validate_scene(scene, index, names, path, where)
        scenes.append(scene)
    return StoryScript(
        title=title_from_path(path), characters=characters, scenes=tuple(scenes), source=path
    )


def _read_lines(text: str) -> list[_Line]:
    """Every line but comments; blank lines stay because they separate the blocks."""
    lines = (_Line(number, raw.rstrip()) for number, raw in enumerate(text.splitlines(), 1))
    return [line for line in lines if not line.text.lstrip().startswith(COMMENT_PREFIX)]


def _split_blocks(lines: list[_Line], path: Path | None) -> tuple[list[_Line], list[_Line]]:
    """Definitions are the first run of non-blank lines; every later non-blank line is a panel."""
    content = list(dropwhile(lambda line: not line.text, lines))
    if not content:
        fail_at(
            path,
            Position(1),
            "the story script is empty",
            f"Start with character definitions like '{EXAMPLE_DEFINITION}', "
            "then a blank line, then one panel per line.",
        )
    blank = next((i for i, line in enumerate(content) if not line.text), len(content))
    return content[:blank], [line for line in content[blank:] if line.text]


def _require_panels(definitions: list[_Line], panels: list[_Line], path: Path | None) -> None:
    """Checked after the definitions, which explain better when the blank line is missing."""
    if not panels:
        fail_at(
            path,
            Position(definitions[-1].number + 1),
            "expected a blank line and then the panels after the character definitions",
            "Add a blank line after the definitions, then write one panel per line, "
            "e.g. '[Bob] at home, reading the newspaper #Bob reads the news'.",
        )


def _read_definition(line: _Line, path: Path | None) -> CharacterSpec:
    """``[Name] description`` -> a character; anything else is reported at its column."""
    match = DEFINITION_PATTERN.fullmatch(line.text.lstrip())
    if match is None:
        fail_at(
            path,
            Position(line.number, line.indent + 1),
            f"expected a character definition like '{EXAMPLE_DEFINITION}'",
            "Start each definition with the name in brackets, then describe the character; "
            "end the definitions with a blank line.",
        )
    description = match.group(2)
    _reject_panel_syntax(line, description, line.indent + match.start(2), path)
    return CharacterSpec(name=match.group(1).strip(), description=description, line=line.number)


def _reject_panel_syntax(line: _Line, description: str, offset: int, path: Path | None) -> None:
    """A tag or caption in a description means the blank line before the panels is missing."""
    found = [i for i in (description.find(CAPTION_MARK), _first_tag_start(description)) if i >= 0]
    if found:
        fail_at(
            path,
            Position(line.number, offset + min(found) + 1),
            "expected a character definition, but this line looks like a panel "
            "(it has a tag or a # caption after the name)",
            "Put a blank line between the character definitions and the panels.",
        )


def _first_tag_start(text: str) -> int:
    match = TAG_PATTERN.search(text)
    return match.start() if match else -1


def _read_panel(line: _Line, index: int, names: list[str], path: Path | None) -> SceneSpec:
    """One panel: the prompt keeps its tags as written, caption and dialogue read them as
    names."""
    text, *speech = line.text.split(DIALOGUE_MARK)
    body, mark, caption = text.rpartition(CAPTION_MARK)
    if not mark:
        body, caption = text, ""
    tags = find_tags(body)
    if not tags:
        check_prompt(body, index, path, Position(line.number, line.indent + 1))
        fail_at(
            path,
            Position(line.number, line.indent + 1),
            "expected a character tag like [Bob] in the panel, or [NC] for a panel without any",
            f"Start the panel with the tag of a defined character ({', '.join(names) or 'none'}) "
            f"or with [{NO_CHARACTER_TAG}].",
        )
    no_character_at = Position(line.number, _tag_column(line.text, NO_CHARACTER_TAG))
    prompt, characters = split_no_character_tag(body.strip(), tags, path, no_character_at)
    return SceneSpec(
        prompt=prompt,
        characters=characters,
        caption=strip_tag_brackets(caption).strip(),
        dialogue="\n".join(s for s in (strip_tag_brackets(s).strip() for s in speech) if s),
        line=line.number,
    )


def _tag_column(text: str, name: str) -> int | None:
    """The 1-based column of the first ``[name]`` tag in ``text``, if there is one."""
    for match in TAG_PATTERN.finditer(text):
        if match.group(1).strip() == name:
            return match.start() + 1
    return None


class _TextPositions:
    """Points the shared checks at the definition or panel line, and at a tag's column."""

    def __init__(self, definitions: list[_Line], panels: list[_Line]) -> None:
        self._definitions = definitions
        self._panels = panels

    def __call__(self, table: str, index: int, key: str = "", needle: str = "") -> Position:
        lines = self._definitions if table == "characters" else self._panels
        if not 0 <= index < len(lines):
            return Position(None)
        line = lines[index]
        if needle:
            return Position(line.number, _tag_column(line.text, needle) or line.indent + 1)
        if table == "characters" and key == "description":
            return Position(line.number, _description_column(line))
        return Position(line.number, line.indent + 1)


def _description_column(line: _Line) -> int:
    match = DEFINITION_PATTERN.fullmatch(line.text.lstrip())
    return line.indent + (match.start(2) if match else 0) + 1
