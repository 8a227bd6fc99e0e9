"""Counted nouns and articles in messages: "1 panel", "an 8-frame motion"."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard_app.export.result import ExportResult
from storyboard_app.project.grammar import article, plural, with_article


def test_plural_agrees_with_the_count() -> None:
    assert plural(1, "panel") == "1 panel"
    assert plural(0, "panel") == "0 panels"
    assert plural(3, "video") == "3 videos"
    assert plural(2, "match", "matches") == "2 matches"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("8-frame motion", "an"),
        ("6-frame morph", "a"),
        ("11-frame morph", "an"),
        ("18-frame morph", "an"),
        ("80-frame morph", "an"),
        ("800-frame morph", "an"),
        ("110-frame morph", "a"),
        ("1-frame cut", "a"),
        ("11,000-frame motion", "an"),
        ("crossfade", "a"),
        ("int", "an"),
        ("unnamed", "an"),
        ("unified pipeline", "a"),
        ("SDXL", "an"),
        ("SD 1.5", "an"),
        ("PNG", "a"),
        ("", "a"),
    ],
)
def test_article_follows_the_sound(phrase: str, expected: str) -> None:
    assert article(phrase) == expected


def test_with_article_and_export_summaries() -> None:
    assert with_article("8-frame motion") == "an 8-frame motion"
    assert ExportResult(Path("a.pdf"), 1, "pages").describe() == "Wrote a.pdf (1 page)."
    assert ExportResult(Path("a.mp4"), 24, "frames").describe() == "Wrote a.mp4 (24 frames)."


def test_a_one_frame_transition_out_of_range_is_named_in_the_singular() -> None:
    from storyboard_app.engine.transitions.job import _check_frames
    from storyboard_app.project.errors import ValidationError

    with pytest.raises(ValidationError, match=r"^A motion transition of 1 frame is out of range"):
        _check_frames("motion", 1)
