"""Story scripts as TOML: the format the app exports and artists edit by hand.

tomllib reads the syntax but forgets where values were, so errors about meaning
are placed by scanning the text for the Nth ``[[scenes]]`` header and the
``key =`` line inside it (:class:`_TomlPositions`).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import tomli_w

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.characters import check_identity_framings
from storyboard_app.project.errors import ScriptError, ValidationError
from storyboard_app.project.ip_adapters import DEFAULT_IP_ADAPTER_SCALE
from storyboard_app.project.scripts.io import (
    Position,
    split_no_character_tag,
    title_from_path,
    validate_story,
)
from storyboard_app.project.scripts.model import (
    CharacterSpec,
    SceneSpec,
    StoryScript,
    TransitionSpec,
)
from storyboard_app.project.settings import (
    AUTO_SIZE,
    ConsistencySettings,
    ProjectSettings,
    settings_field_names,
)
from storyboard_app.project.tags import find_tags

TOP_KEYS = ("title", "settings", "characters", "scenes")
CHARACTER_KEYS = (
    "name",
    "description",
    "negative_prompt",
    "seed",
    "color",
    "reference_image",
    "reference_strength",
    "ip_adapter",
    "ip_adapter_scale",
    "identity_framings",
)
SCENE_KEYS = (
    "prompt",
    "action",
    "characters",
    "caption",
    "narration",
    "dialogue",
    "negative_prompt",
    "notes",
    "shot",
    "duration",
    "seed",
    "seed_locked",
    "transition",
    "camera",
)
# The panel-writing names, read as the keys scripts have always used (written back as those).
SCENE_ALIASES = {"prompt": "action", "caption": "narration"}
TRANSITION_KEYS = ("kind", "duration", "frames")
CAMERA_KEYS = ("start", "end", "easing")
FRAMING_KEYS = ("x", "y", "zoom")
TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}
MAX_NESTING = 32
SIZE_KEYS = ("width", "height")
AUTO_WORD = "auto"  # width = "auto": the model's native size
SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
END_OF_DOCUMENT = re.compile(r"\s*\(at end of document\)$")
HEADER = """\
# Story script for storyboard_app.
# [[characters]] define who appears; [[scenes]] are the panels, in order.
# Write [Name] in a prompt to put that character in the panel, [NC] for nobody.
"""


def parse_story_toml(text: str, path: Path | None = None) -> StoryScript:
    """Parse a TOML story; raise :class:`ScriptError` at the first problem."""
    where = _TomlPositions(text)
    top = _Table(_load(text, path), "", 0, "the story", path, where)
    top.check_keys(TOP_KEYS)
    title = top.get("title", str, "")
    script = StoryScript(
        title=title or title_from_path(path),
        characters=tuple(_read_character(entry) for entry in top.entries("characters")),
        scenes=tuple(_read_scene(entry) for entry in top.entries("scenes")),
        settings=_read_settings(top.child("settings", "settings", top.get("settings", dict, {}))),
        source=path,
    )
    validate_story(script, path, where)
    return script


def _load(text: str, path: Path | None) -> dict[str, Any]:
    """tomllib's parse, with its "(at line L, column C)" turned into a real position."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(path) from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        line = column = None
        if match := SYNTAX_POSITION.search(message):
            line, column = int(match.group(1)), int(match.group(2))
        elif match := END_OF_DOCUMENT.search(message):
            line = max(len(text.splitlines()), 1)
        problem = message[: match.start()] if match else message
        raise ScriptError(
            path,
            line,
            f"TOML syntax error: {problem}",
            "Check quotes, brackets and '=' near that place; strings need \"quotes\".",
            column=column,
        ) from None
    if _depth(data) > MAX_NESTING:
        raise _too_deep(path)
    return data


def _too_deep(path: Path | None) -> ScriptError:
    return ScriptError(
        path,
        None,
        f"the story script nests arrays or tables more than {MAX_NESTING} levels deep",
        "A story needs only [[characters]] and [[scenes]] with plain values; "
        "remove the extra brackets.",
    )


def _depth(value: object) -> int:
    """How deeply lists and tables nest in ``value``, without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


@dataclass(frozen=True)
class _Table:
    """One TOML table being read, and what errors about it need: where it is
    (``name``/``index``, ``prefix`` for keys nested in a value) and how to call it."""

    data: Mapping[str, Any]
    name: str
    index: int
    label: str
    path: Path | None
    where: _TomlPositions
    prefix: str = ""

    def fail(self, key: str, problem: str, hint: str) -> NoReturn:
        position = self.where(self.name, self.index, self.prefix + key)
        raise ScriptError(self.path, position.line, problem, hint, column=position.column)

    def check_keys(self, allowed: Collection[str]) -> None:
        """Reject keys the format does not know, suggesting the closest known one."""
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                self.fail(
                    key,
                    f"unknown key '{key}' in {self.label}",
                    (f"Did you mean '{close[0]}'? " if close else "")
                    + "Allowed keys: "
                    + ", ".join(allowed)
                    + ".",
                )

    def get(self, key: str, expected: type, default: Any = None) -> Any:
        """The value of ``key`` checked against ``expected`` (ints count as numbers, bools
        don't), or ``default`` when it is not there."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not _is_type(value, expected):
            self.fail(
                key,
                f"'{key}' in {self.label} must be {TYPE_NAMES[expected]}, not {_describe(value)}",
                f"Write {key} as {TYPE_NAMES[expected]}.",
            )
        return float(value) if expected is float else value

    def required(self, key: str) -> str:
        if key not in self.data:
            self.fail("", f"{self.label} has no '{key}'", f'Add {key} = "...".')
        return self.get(key, str)

    def either(self, key: str, alias: str) -> str:
        """``key`` or its other name ``alias`` (``caption`` or ``narration``), never both,
        so a script cannot say two different things about one field."""
        if key in self.data and alias in self.data:
            self.fail(
                alias,
                f"{self.label} has both '{key}' and '{alias}', which are the same field",
                f"Keep one of them: '{alias}' is another name for '{key}'.",
            )
        return key if key in self.data or alias not in self.data else alias

    def child(self, name: str, label: str, data: Mapping[str, Any]) -> _Table:
        """A table of its own (``[settings]``) read from the top level."""
        return _Table(data, name, 0, label, self.path, self.where)

    def nested(self, key: str, label: str, data: Mapping[str, Any]) -> _Table:
        """A table inside this one (a scene's ``transition``), located through this one."""
        prefix = f"{self.prefix}{key}."
        return _Table(data, self.name, self.index, label, self.path, self.where, prefix)

    def entries(self, name: str) -> list[_Table]:
        """The ``[[name]]`` tables, each checked to be a table."""
        singular = name.removesuffix("s")
        entries: list[_Table] = []
        for index, entry in enumerate(self.get(name, list, [])):
            table = _Table(entry, name, index, f"{singular} {index + 1}", self.path, self.where)
            if not isinstance(entry, dict):
                table.fail(
                    "",
                    f"{singular} {index + 1} must be a table, not {_describe(entry)}",
                    f"Write each {singular} as a [[{name}]] section.",
                )
            entries.append(table)
        return entries


def _read_character(table: _Table) -> CharacterSpec:
    table.check_keys(CHARACTER_KEYS)
    reference = table.get("reference_image", str)
    return CharacterSpec(
        name=table.required("name"),
        description=table.required("description"),
        negative_prompt=table.get("negative_prompt", str, ""),
        seed=table.get("seed", int),
        color=table.get("color", str),
        reference_image=Path(reference) if reference is not None else None,
        line=table.where("characters", table.index).line,
        identity_framings=_read_framings(table),
        reference_strength=table.get("reference_strength", float, 1.0),
        ip_adapter=table.get("ip_adapter", str, ""),
        ip_adapter_scale=table.get("ip_adapter_scale", float, DEFAULT_IP_ADAPTER_SCALE),
    )


def _read_framings(table: _Table) -> tuple[str, ...]:
    """``identity_framings = ["portrait, looking at the viewer", ...]``: what its identity
    images show besides the description."""
    value = table.get("identity_framings", list, [])
    if not all(isinstance(v, str) for v in value):
        table.fail(
            "identity_framings",
            f"'identity_framings' in {table.label} must be a list of strings",
            'Write identity_framings = ["portrait, looking at the viewer", "full body"].',
        )
    try:
        return check_identity_framings(value, table.data.get("name", table.label))
    except ValidationError as error:
        table.fail("identity_framings", error.message, error.hint)


def _read_scene(table: _Table) -> SceneSpec:
    """A scene's characters are its ``characters`` list, then the tags of its prompt."""
    table.check_keys(SCENE_KEYS)
    prompt_key = table.either("prompt", SCENE_ALIASES["prompt"])
    text = table.required(prompt_key)
    names = dict.fromkeys([*_listed_characters(table), *find_tags(text)])
    prompt, characters = split_no_character_tag(
        text, list(names), table.path, table.where("scenes", table.index, prompt_key)
    )
    transition = table.get("transition", dict)
    camera = table.get("camera", dict)
    return SceneSpec(
        prompt=prompt,
        characters=characters,
        negative_prompt=table.get("negative_prompt", str, ""),
        caption=table.get(table.either("caption", SCENE_ALIASES["caption"]), str, ""),
        dialogue=table.get("dialogue", str, ""),
        notes=table.get("notes", str, ""),
        shot_type=table.get("shot", str, ""),
        duration=table.get("duration", float),
        seed=table.get("seed", int),
        seed_locked=table.get("seed_locked", bool, False),
        transition_to_next=None if transition is None else _read_transition(table, transition),
        camera_move=None if camera is None else _read_camera(table, camera),
        line=table.where("scenes", table.index).line,
    )


def _listed_characters(table: _Table) -> list[str]:
    names = table.get("characters", list, [])
    if not all(isinstance(name, str) for name in names):
        table.fail(
            "characters",
            f"'characters' in {table.label} must list names as strings",
            'Write characters = ["Mara", "Tom"].',
        )
    return [name.strip() for name in names]


def _read_transition(scene: _Table, data: Mapping[str, Any]) -> TransitionSpec:
    table = scene.nested("transition", f"the transition after {scene.label}", data)
    table.check_keys(TRANSITION_KEYS)
    defaults = TransitionSpec()
    return TransitionSpec(
        kind=table.get("kind", str, defaults.kind),
        duration=table.get("duration", float, defaults.duration),
        frames=table.get("frames", int, defaults.frames),
    )


def _read_camera(scene: _Table, data: Mapping[str, Any]) -> CameraMove:
    """``camera = { start = {x, y, zoom}, end = {x, y, zoom}, easing = "..." }``."""
    table = scene.nested("camera", f"the camera move of {scene.label}", data)
    table.check_keys(CAMERA_KEYS)
    start = _read_framing(table, "start")
    end = _read_framing(table, "end")
    easing = table.get("easing", str, "ease_in_out")
    try:
        return CameraMove(start, end, easing)
    except ValidationError as error:
        table.fail("easing", f"invalid camera move in {scene.label}: {error.message}", error.hint)


def _read_framing(camera: _Table, key: str) -> Framing:
    table = camera.nested(key, f"the {key} framing of {camera.label}", camera.get(key, dict, {}))
    table.check_keys(FRAMING_KEYS)
    try:
        return Framing(
            center_x=table.get("x", float, 0.5),
            center_y=table.get("y", float, 0.5),
            zoom=table.get("zoom", float, 1.0),
        )
    except ValidationError as error:
        table.fail("", f"invalid {key} framing in {camera.label}: {error.message}", error.hint)


def _read_settings(table: _Table) -> dict[str, Any]:
    """Each setting typed and validated alone, so an error points at its own line."""
    kinds = _setting_types()
    table.check_keys(kinds)
    settings = {key: _read_setting(table, key, kinds[key]) for key in table.data}
    try:
        ProjectSettings().with_changes(**settings)
    except ValidationError as error:
        table.fail("", f"invalid settings: {error.message}", error.hint)
    return settings


def _read_setting(table: _Table, key: str, expected: type) -> Any:
    if key in SIZE_KEYS and table.data[key] == AUTO_WORD:
        return AUTO_SIZE
    if expected is tuple:
        value = table.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            table.fail(
                key, f"setting '{key}' must be a list of strings", f'Write {key} = ["up_blocks"].'
            )
        value = tuple(value)
    else:
        value = table.get(key, expected)
    try:
        ProjectSettings().with_changes(**{key: value})
    except ValidationError as error:
        table.fail(key, f"invalid setting '{key}': {error.message}", error.hint)
    return value


def _setting_types() -> dict[str, type]:
    """The type of every flat setting, read from the defaults so the schema stays the source."""
    defaults = {**vars(ProjectSettings()), **vars(ConsistencySettings())}
    return {name: type(defaults[name]) for name in settings_field_names()}


def _is_type(value: Any, expected: type) -> bool:
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _describe(value: Any) -> str:
    for kind in (bool, str, int, float, list, dict):
        if isinstance(value, kind):
            return TYPE_NAMES[kind]
    return type(value).__name__


class _TomlPositions:
    """Finds the line of the Nth ``[[table]]`` header and of ``key =`` inside it.

    A table's lines run from its header to the next header that is not one of
    its sub-tables (``[scenes.transition]`` belongs to the scene above it).
    """

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers: dict[str, list[int]] = {}

    def __call__(self, table: str, index: int = 0, key: str = "", needle: str = "") -> Position:
        span = self._span(table, index)
        if span is None:
            return self._top_level_key(table)
        start, end = span
        if needle and (found := self._find_needle(needle, start, end)):
            return found
        for part in reversed([part for part in key.split(".") if part]):
            if found := self._find_key(part, start, end):
                return found
        return Position(start + 1 if table else None)

    def _span(self, table: str, index: int) -> tuple[int, int] | None:
        if not table:
            return 0, self._next_header(0, "")
        headers = self._headers_of(table)
        if index >= len(headers):
            return None
        return headers[index], self._next_header(headers[index] + 1, table)

    def _headers_of(self, table: str) -> list[int]:
        """The lines of every ``[[table]]`` header, found once: a script of a thousand
        scenes asks for positions thousands of times."""
        if table not in self._headers:
            pattern = re.compile(rf"\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
            self._headers[table] = [i for i, line in enumerate(self._lines) if pattern.match(line)]
        return self._headers[table]

    def _next_header(self, start: int, table: str) -> int:
        own = re.compile(rf"\s*\[\[?\s*{re.escape(table)}\s*\.") if table else None
        for i in range(start, len(self._lines)):
            line = self._lines[i]
            if line.lstrip().startswith("[") and not (own and own.match(line)):
                return i
        return len(self._lines)

    def _find_key(self, key: str, start: int, end: int) -> Position | None:
        pattern = re.compile(
            rf"\s*(?:[\"']?{re.escape(key)}[\"']?\s*=|\[[^\]]*\.\s*{re.escape(key)}\s*\])"
        )
        for i in range(start, end):
            if pattern.match(self._lines[i]):
                return Position(i + 1, self._indent(i) + 1)
        return None

    def _find_needle(self, needle: str, start: int, end: int) -> Position | None:
        for form in (f"[{needle}]", f'"{needle}"', f"'{needle}'", needle):
            for i in range(start, end):
                if (column := self._lines[i].find(form)) >= 0:
                    return Position(i + 1, column + 1)
        return None

    def _top_level_key(self, table: str) -> Position:
        """Where a table written inline (``scenes = [...]``) starts, if anywhere."""
        found = self._find_key(table, 0, self._next_header(0, "")) if table else None
        return found or Position(None)

    def _indent(self, i: int) -> int:
        return len(self._lines[i]) - len(self._lines[i].lstrip())


def dump_story_toml(script: StoryScript) -> str:
    """``script`` as TOML that :func:`parse_story_toml` reads back to the same story."""
    parts = [HEADER, _toml_line("title", script.title)]
    if script.settings:
        parts.append("\n[settings]\n" + _toml_lines(_setting_items(script.settings)))
    for character in script.characters:
        parts.append("\n[[characters]]\n" + _toml_lines(_character_items(character)))
    for scene in script.scenes:
        parts.append("\n[[scenes]]\n" + _toml_lines(_scene_items(scene)))
    return "".join(parts)


def _setting_items(settings: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """The settings, an automatic size written as ``"auto"``."""
    for key, value in settings.items():
        yield key, AUTO_WORD if key in SIZE_KEYS and value == AUTO_SIZE else value


def _character_items(character: CharacterSpec) -> Iterable[tuple[str, Any]]:
    yield "name", character.name
    yield "description", character.description
    if character.negative_prompt:
        yield "negative_prompt", character.negative_prompt
    if character.seed is not None:
        yield "seed", character.seed
    if character.color is not None:
        yield "color", character.color
    if character.reference_image is not None:
        yield "reference_image", character.reference_image.as_posix()
    if character.reference_strength != 1.0:
        yield "reference_strength", character.reference_strength
    if character.ip_adapter:
        yield "ip_adapter", character.ip_adapter
    if character.ip_adapter_scale != DEFAULT_IP_ADAPTER_SCALE:
        yield "ip_adapter_scale", character.ip_adapter_scale
    if character.identity_framings:
        yield "identity_framings", list(character.identity_framings)


def _scene_items(scene: SceneSpec) -> Iterable[tuple[str, Any]]:
    """Only what differs from the defaults, so exported scripts stay short."""
    yield "prompt", scene.prompt
    if scene.characters != tuple(find_tags(scene.prompt)):
        yield "characters", list(scene.characters)
    optional = {
        "caption": scene.caption,
        "dialogue": scene.dialogue,
        "negative_prompt": scene.negative_prompt,
        "notes": scene.notes,
        "shot": scene.shot_type,
        "duration": scene.duration,
        "seed": scene.seed,
        "seed_locked": scene.seed_locked or None,
    }
    yield from ((key, value) for key, value in optional.items() if value not in ("", None))
    if scene.transition_to_next is not None:
        yield "transition", _transition_table(scene.transition_to_next)
    if scene.camera_move is not None:
        yield "camera", _camera_table(scene.camera_move)


def _camera_table(move: CameraMove) -> dict[str, Any]:
    def framing(f: Framing) -> dict[str, float]:
        return {"x": f.center_x, "y": f.center_y, "zoom": f.zoom}

    return {"start": framing(move.start), "end": framing(move.end), "easing": move.easing}


def _transition_table(transition: TransitionSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"kind": transition.kind, "duration": transition.duration}
    if transition.frames is not None:
        table["frames"] = transition.frames
    return table


def _toml_lines(items: Iterable[tuple[str, Any]]) -> str:
    return "".join(_toml_line(key, value) for key, value in items)


def _toml_line(key: str, value: Any) -> str:
    return f"{key} = {_toml_value(value)}\n"


def _toml_value(value: Any) -> str:
    """One value in TOML, lists and tables inline so each scene reads as one block.

    tomli_w does the quoting and number formatting; only the layout is ours.
    """
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()
