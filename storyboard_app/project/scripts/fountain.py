"""Fountain screenplays (https://fountain.io) read as a storyboard's first draft.

A screenplay already says where each scene is and what happens in it, so the
panels follow its structure: a scene heading becomes an establishing panel
without characters, each action paragraph a panel, a character's dialogue goes
on the panel of that moment (in its dialogue, one balloon a line), and
transitions become the cut or crossfade after the panel before them.

This reads the subset of Fountain a storyboard needs: title page ``Key: value``
lines, scene headings (INT./EXT./EST./I/E. or forced with ``.``), character cues
(capitals, or forced with ``@``) with parentheticals and dialogue, transitions
(capitals ending in ``TO:``, or forced with ``>``), notes ``[[ ]]`` and boneyard
``/* */`` (both dropped), sections ``#``, synopses ``=``, page breaks ``===`` and
centred text ``>THE END<`` (skipped: they are not moments on screen). Everything
else is action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from storyboard_app.project.scripts.io import Position, fail_at, title_from_path, validate_story
from storyboard_app.project.scripts.model import (
    CharacterSpec,
    SceneSpec,
    StoryScript,
    TransitionSpec,
)
from storyboard_app.project.scripts.names import (
    readable_name,
    tag_mentions,
    undescribed_character,
)
from storyboard_app.project.tags import NO_CHARACTER_TAG, strip_tag_brackets

HEADING_PATTERN = re.compile(r"(INT|EXT|EST|INT\.?/EXT|I/E)[.\s]", re.IGNORECASE)
TITLE_KEY_PATTERN = re.compile(r"([A-Za-z][A-Za-z ]*):(.*)")
TITLE_KEYS = (
    "title", "credit", "author", "authors", "source", "draft date", "date", "contact",
    "notes", "copyright", "revision", "font",
)  # fmt: skip
CUE_PATTERN = re.compile(r"([A-Z0-9][A-Z0-9 .'’\-]*?[A-Z][A-Z0-9 .'’\-]*)\s*(\(.*\))?\s*\^?")
FORCED_CUE_PATTERN = re.compile(r"@([^(\^]+?)\s*(\(.*\))?\s*\^?")
TRANSITION_PATTERN = re.compile(r"[A-Z0-9 .:\-]+ TO:")
CROSSFADE_WORDS = ("DISSOLVE", "FADE")
EMPHASIS_PATTERN = re.compile(r"[*_]+")


@dataclass(frozen=True)
class _Line:
    number: int
    text: str


@dataclass(frozen=True)
class _Element:
    """One screenplay element: ``kind`` is heading, action, dialogue or transition."""

    kind: str
    text: str
    line: int
    speaker: str = ""
    parenthetical: str = ""


def parse_fountain(text: str, path: Path | None = None) -> StoryScript:
    """Parse a Fountain screenplay; raise :class:`ScriptError` at the first problem."""
    text = _blank_out(text, "/*", "*/", "boneyard", path)
    text = _blank_out(text, "[[", "]]", "note", path)
    lines = [_Line(n, raw.rstrip()) for n, raw in enumerate(text.splitlines(), 1)]
    title, body = _split_title_page(lines)
    elements = [element for block in _blocks(body) for element in _read_block(block)]
    board = _Board(path, characters=_cast(elements, path))
    for element in elements:
        board.add(element)
    if not board.scenes:
        fail_at(
            path,
            Position(lines[-1].number if lines else 1),
            "the screenplay has no scene headings or action to make panels from",
            "Write a scene heading like 'INT. KITCHEN - NIGHT' and what happens in it.",
        )
    script = StoryScript(
        title=title or title_from_path(path),
        characters=tuple(board.characters.values()),
        scenes=tuple(board.scenes),
        source=path,
    )
    validate_story(script, path)
    return script


def _cast(elements: list[_Element], path: Path | None) -> dict[str, CharacterSpec]:
    """Everyone with a cue, in order of their first line, so earlier action can tag them too."""
    cast: dict[str, CharacterSpec] = {}
    for element in elements:
        if element.kind != "dialogue":
            continue
        if element.speaker == NO_CHARACTER_TAG:
            fail_at(
                path,
                Position(element.line),
                f"a character cue cannot be {NO_CHARACTER_TAG}",
                f"Rename the character: [{NO_CHARACTER_TAG}] marks panels without characters.",
            )
        cast.setdefault(element.speaker, undescribed_character(element.speaker, element.line))
    return cast


def _blank_out(text: str, opening: str, closing: str, what: str, path: Path | None) -> str:
    """Replace ``opening ... closing`` spans by spaces, keeping newlines so lines still count."""
    parts = []
    start = 0
    while (begin := text.find(opening, start)) >= 0:
        end = text.find(closing, begin + len(opening))
        if end < 0:
            fail_at(
                path,
                Position(text.count("\n", 0, begin) + 1, begin - text.rfind("\n", 0, begin)),
                f"the {what} opened here with '{opening}' is never closed",
                f"Close it with '{closing}'.",
            )
        end += len(closing)
        parts += [text[start:begin], re.sub(r"[^\n]", " ", text[begin:end])]
        start = end
    return "".join([*parts, text[start:]])


def _split_title_page(lines: list[_Line]) -> tuple[str, list[_Line]]:
    """The title page is the first block when it starts with ``Key:``; its Title is kept."""
    first = next((i for i, line in enumerate(lines) if line.text.strip()), len(lines))
    opening = TITLE_KEY_PATTERN.fullmatch(lines[first].text) if first < len(lines) else None
    if opening is None or opening.group(1).strip().lower() not in TITLE_KEYS:
        return "", lines
    end = next((i for i in range(first, len(lines)) if not lines[i].text.strip()), len(lines))
    title_parts: list[str] = []
    key = ""
    for line in lines[first:end]:
        match = TITLE_KEY_PATTERN.fullmatch(line.text)
        if match and not line.text[:1].isspace():
            key, value = match.group(1).strip().lower(), match.group(2).strip()
        else:
            value = line.text.strip()
        if key == "title" and value:
            title_parts.append(EMPHASIS_PATTERN.sub("", value).strip())
    return " ".join(title_parts), lines[end:]


def _blocks(lines: list[_Line]) -> list[list[_Line]]:
    """Runs of non-blank lines: Fountain's elements are separated by blank lines."""
    blocks: list[list[_Line]] = [[]]
    for line in lines:
        if line.text.strip():
            blocks[-1].append(_Line(line.number, line.text.strip()))
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _read_block(block: list[_Line]) -> list[_Element]:
    """What one block is, decided by its first line, as the Fountain spec does."""
    first = block[0]
    text = first.text
    if text.startswith(("#", "=")) and not text.startswith("==="):
        return _read_block(block[1:]) if len(block) > 1 else []
    if text.startswith("==="):
        return []
    if _is_heading(text):
        rest = _read_block(block[1:]) if len(block) > 1 else []
        return [_Element("heading", _heading_text(text), first.number), *rest]
    if text.startswith(">") and text.endswith("<"):
        return []
    if len(block) == 1 and _is_transition(text):
        return [_Element("transition", text.lstrip(">").strip(), first.number)]
    cue = _cue_name(text)
    if cue and len(block) > 1:
        return _read_dialogue(cue, block)
    action = " ".join(line.text.removeprefix("!") for line in block)
    return [_Element("action", _plain(action), first.number)]


def _is_heading(text: str) -> bool:
    return (text.startswith(".") and text[1:2].isalnum()) or bool(HEADING_PATTERN.match(text))


def _heading_text(text: str) -> str:
    """The heading without a forced '.' or a trailing scene number ``#12#``."""
    return re.sub(r"\s*#[^#]*#$", "", text.removeprefix(".")).strip()


def _is_transition(text: str) -> bool:
    if text.startswith(">"):
        return not text.endswith("<")
    return bool(TRANSITION_PATTERN.fullmatch(text))


def _cue_name(text: str) -> str:
    """The speaker's name when ``text`` is a character cue, else "".

    A cue in capitals reads as a name (``MR. HALE`` -> ``Mr. Hale``); a forced
    ``@McQueen`` keeps the spelling it was forced for.
    """
    if text.startswith("@"):
        match = FORCED_CUE_PATTERN.fullmatch(text)
        return match.group(1).strip() if match else ""
    if text.startswith(("!", ">")):
        return ""
    match = CUE_PATTERN.fullmatch(text)
    return readable_name(match.group(1)) if match else ""


def _read_dialogue(speaker: str, block: list[_Line]) -> list[_Element]:
    """A cue, then parentheticals and speech; each parenthetical tells how the next lines sound."""
    speeches: list[_Element] = []
    how = ""
    words: list[str] = []
    for line in block[1:]:
        if line.text.startswith("(") and line.text.endswith(")"):
            if words:
                speeches.append(_speech(speaker, words, how, block[0].number))
                words = []
            how = line.text[1:-1].strip()
        else:
            words.append(line.text)
    if words or not speeches:
        speeches.append(_speech(speaker, words, how, block[0].number))
    return speeches


def _speech(speaker: str, words: list[str], how: str, line: int) -> _Element:
    return _Element("dialogue", _plain(" ".join(words)), line, speaker, how)


def _plain(text: str) -> str:
    """Fountain's emphasis marks (``*bold*``, ``_underline_``) are not prompt words."""
    return EMPHASIS_PATTERN.sub("", text).strip()


@dataclass
class _Board:
    """Panels and characters built up element by element."""

    path: Path | None
    scenes: list[SceneSpec] = field(default_factory=list)
    characters: dict[str, CharacterSpec] = field(default_factory=dict)
    location: str = ""
    speaker_panel: bool = False

    def add(self, element: _Element) -> None:
        if element.kind == "heading":
            self._heading(element)
        elif element.kind == "transition":
            self._transition(element)
        elif element.kind == "dialogue":
            self._dialogue(element)
        else:
            self._action(element)

    def _heading(self, element: _Element) -> None:
        self.location = element.text
        self.scenes.append(
            SceneSpec(
                prompt=f"establishing shot, {_setting_words(element.text)}",
                shot_type="establishing",
                caption=element.text,
                line=element.line,
            )
        )
        self.speaker_panel = False

    def _action(self, element: _Element) -> None:
        prompt, characters = tag_mentions(element.text, list(self.characters))
        if self.location:
            prompt = f"{prompt.rstrip('. ')}, {_setting_words(self.location)}"
        self.scenes.append(SceneSpec(prompt=prompt, characters=characters, line=element.line))
        self.speaker_panel = True

    def _dialogue(self, element: _Element) -> None:
        name = element.speaker
        if not self.speaker_panel:
            self._speaking_panel(element)
        panel = self.scenes[-1]
        characters = panel.characters if name in panel.characters else (*panel.characters, name)
        line = f"{name}" + (f" ({element.parenthetical})" if element.parenthetical else "")
        line += f": {element.text}" if element.text else ""
        dialogue = f"{panel.dialogue}\n{line}" if panel.dialogue else line
        self.scenes[-1] = replace(panel, characters=characters, dialogue=dialogue)

    def _speaking_panel(self, element: _Element) -> None:
        """Dialogue right after a heading gets its own panel: the establishing one is empty."""
        how = f", {element.parenthetical}" if element.parenthetical else ""
        where = f", {_setting_words(self.location)}" if self.location else ""
        prompt = f"[{element.speaker}] speaking{how}{where}"
        self.scenes.append(
            SceneSpec(prompt=prompt, characters=(element.speaker,), line=element.line)
        )
        self.speaker_panel = True

    def _transition(self, element: _Element) -> None:
        if not self.scenes:
            fail_at(
                self.path,
                Position(element.line),
                f"the transition '{element.text}' comes before any panel",
                "Put a scene heading or action before the first transition.",
            )
        upper = element.text.upper()
        kind = "crossfade" if any(word in upper for word in CROSSFADE_WORDS) else "cut"
        transition = TransitionSpec(kind=kind, duration=0.0 if kind == "cut" else 0.5)
        self.scenes[-1] = replace(self.scenes[-1], transition_to_next=transition)


def _setting_words(heading: str) -> str:
    """``INT. KITCHEN - NIGHT`` -> ``interior, kitchen, night``: heading words a prompt reads."""
    words = {"int": "interior", "ext": "exterior", "est": "exterior", "i/e": "interior/exterior"}
    match = re.match(r"(INT\.?/EXT|I/E|INT|EXT|EST)[.\s]\s*", heading, re.IGNORECASE)
    prefix = ""
    if match:
        key = match.group(1).lower()
        prefix = words.get(key, "interior/exterior") + ", "
        heading = heading[match.end() :]
    parts = [part.strip() for part in re.split(r"\s+-+\s+|\s*--\s*", heading) if part.strip()]
    return prefix + strip_tag_brackets(", ".join(parts)).lower()
