"""Importing a script is linear in its panels: counted in queries, rows read and lines
scanned, never timed."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.models import Scene
from storyboard_app.project.scripts import toml_format
from storyboard_app.project.scripts.toml_format import parse_story_toml
from storyboard_app.project.story import create_project_from_script, scene_fields


def script_text(panels: int) -> str:
    lines = ['title = "Walk"', "", "[[characters]]", 'name = "Mara"', 'description = "red hair"']
    for number in range(panels):
        lines += ["", "[[scenes]]", f'prompt = "[Mara] walks, stretch {number}"', "duration = 2.0"]
        if number % 3 == 0:
            lines.append('transition = { kind = "crossfade", duration = 0.5 }')
    return "\n".join(lines) + "\n"


@contextmanager
def counting_reads() -> Iterator[dict[str, int]]:
    """SQL statements run on any engine and Scene rows loaded from the database."""
    counts = {"queries": 0, "scene_rows": 0}

    def query(*_event: object) -> None:
        counts["queries"] += 1

    def loaded(*_event: object) -> None:
        counts["scene_rows"] += 1

    event.listen(Engine, "before_cursor_execute", query)
    for kind in ("load", "refresh"):
        event.listen(Scene, kind, loaded)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", query)
        for kind in ("load", "refresh"):
            event.remove(Scene, kind, loaded)


def import_costs(folder: Path, panels: int) -> dict[str, int]:
    script = parse_story_toml(script_text(panels))
    with counting_reads() as counts:
        create_project_from_script(folder / f"story{panels}", script).close()
    return counts


def test_importing_twice_the_panels_costs_twice_the_reads(tmp_path: Path) -> None:
    small = import_costs(tmp_path, 50)
    large = import_costs(tmp_path, 100)
    assert small["queries"] > 50
    assert large["queries"] <= 2 * small["queries"] + 10
    # Each panel added used to re-read every panel before it: 1,225 rows for 50 panels.
    assert large["scene_rows"] <= 2 * small["scene_rows"] + 10


class CountingPattern:
    """A compiled pattern that counts the lines it is asked to match."""

    def __init__(self, pattern: re.Pattern[str], counts: list[int]) -> None:
        self._pattern = pattern
        self._counts = counts

    def match(self, line: str, *args: Any) -> re.Match[str] | None:
        self._counts[0] += 1
        return self._pattern.match(line, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pattern, name)


def lines_matched(monkeypatch: pytest.MonkeyPatch, panels: int) -> int:
    counts = [0]
    real_compile = re.compile

    class CountingRe:
        def __getattr__(self, name: str) -> Any:
            return getattr(re, name)

        @staticmethod
        def compile(pattern: str, flags: int = 0) -> CountingPattern:
            return CountingPattern(real_compile(pattern, flags), counts)

    with monkeypatch.context() as patch:
        patch.setattr(toml_format, "re", CountingRe())
        assert len(parse_story_toml(script_text(panels)).scenes) == panels
    return counts[0]


def test_finding_positions_in_a_script_scans_it_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = lines_matched(monkeypatch, 100)
    large = lines_matched(monkeypatch, 200)
    assert small > 0
    assert large <= 2 * small + 50


def test_a_script_imported_at_once_equals_its_panels_added_one_by_one(tmp_path: Path) -> None:
    """The import appends every panel in one flush (append_scenes); the panels are those
    ``add_scene`` makes one at a time: ids, positions, seeds, casts and fields."""
    text = script_text(7).replace('prompt = "[Mara] walks, stretch 3"', 'prompt = "[NC] a gull"')
    text = text.replace(
        'prompt = "[Mara] walks, stretch 5"', 'prompt = "[Mara] waits"\nseed = 77\ncaption = "Hm."'
    )
    script = parse_story_toml(text)
    at_once = create_project_from_script(tmp_path / "at_once", script)
    no_panels = dataclasses.replace(script, scenes=[])
    one_by_one = create_project_from_script(tmp_path / "one_by_one", no_panels)
    try:
        for spec in script.scenes:
            fields = scene_fields(spec)
            one_by_one.scenes.add(str(fields.pop("prompt")), **fields)
        imported, added = at_once.scenes.list(), one_by_one.scenes.list()
        assert imported == added
        assert [s.seed for s in imported][5] == 77
        assert imported[3].character_names == ()
        assert len({s.seed for s in imported}) == len(imported)
    finally:
        at_once.close()
        one_by_one.close()


def test_an_imported_panel_naming_an_unknown_character_is_refused(tmp_path: Path) -> None:
    """The parser refuses it first; the store refuses it too (a caller that skipped it)."""
    script = parse_story_toml(script_text(3))
    scenes = list(script.scenes)
    scenes[2] = dataclasses.replace(scenes[2], characters=("Bob",))
    script = dataclasses.replace(script, scenes=scenes)
    with pytest.raises(StoryboardError, match="Bob"):
        create_project_from_script(tmp_path / "story", script).close()
    assert not (tmp_path / "story.storyboard").exists()
