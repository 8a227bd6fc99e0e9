"""Random and mutated screenplays and prose: a story or one ScriptError, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLES

pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra; run dev.py to install")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.fountain import parse_fountain
from storyboard_app.project.scripts.io import validate_story
from storyboard_app.project.scripts.prose import parse_prose

SCREENPLAY = (EXAMPLES / "lighthouse.fountain").read_text(encoding="utf-8")
PIECES = st.sampled_from(
    ["/*", "*/", "[[", "]]", "\n\n", "INT. ", "CUT TO:", "\nNC\n", "@", ">", "<", "(", ")",
     '"', "“", "[NC]", "[Mara]", "Title:", "#", "=", "\x00", "é", "I ", "She ", "[" * 50]
)  # fmt: skip
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = SCREENPLAY
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 60)))
        text = text[:start] + draw(st.one_of(PIECES, st.text(max_size=15))) + text[end:]
    return text


@FUZZ
@given(mutated(), st.sampled_from(["fountain", "prose"]), st.none() | st.integers(1, 12))
def test_any_text_is_a_valid_story_or_one_script_error(
    text: str, reader: str, panels: int | None
) -> None:
    path = Path("story.fountain" if reader == "fountain" else "story.md")
    try:
        if reader == "fountain":
            script = parse_fountain(text, path)
        else:
            script = parse_prose(text, path, panels=panels)
    except ScriptError as error:
        assert error.path == str(path) and error.problem
        return
    validate_story(script, path)
    assert script.scenes
    if panels is not None and reader == "prose":
        assert len(script.scenes) <= panels
