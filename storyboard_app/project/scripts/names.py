"""Finding characters in free text and turning mentions into ``[Name]`` tags.

Screenplays and prose both name their characters in running text ("ANNA opens the
door", "Mara's lamp"). Prompts need the tag instead, so identity consistency knows
who is in the panel. Matching is whole-word and case-insensitive, and takes the
possessive ('s) along, so "Anna's" is Anna and "Annabel" is not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from storyboard_app.project.scripts.model import CharacterSpec


def mention_pattern(name: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive ``name``; a possessive 's stays outside the match,
    and an already tagged ``[Name]`` is not matched again."""
    words = r"\s+".join(re.escape(word) for word in name.split())
    return re.compile(rf"(?<![\w\[])({words})(?!\w)", re.IGNORECASE)


def mentioned(text: str, names: Sequence[str]) -> list[str]:
    """The names that ``text`` mentions, in the order they first appear."""
    found = []
    for name in names:
        match = mention_pattern(name).search(text)
        if match is not None:
            found.append((match.start(), name))
    return [name for _, name in sorted(found)]


def tag_mentions(text: str, names: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Tag the first mention of each named character; later mentions stay plain words.

    Every tag is replaced by the character's description when rendering, so one tag
    per character keeps the description from being repeated in the prompt.
    """
    characters = mentioned(text, names)
    for name in characters:
        text = mention_pattern(name).sub(f"[{name}]", text, count=1)
    return text, tuple(characters)


def readable_name(cue: str) -> str:
    """``MRS. O'HARA`` -> ``Mrs. O'Hara``: screenplay cues are capitals, tags read better."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0).capitalize(), cue.strip())


def undescribed_character(name: str, line: int | None = None) -> CharacterSpec:
    """A character found in the text but not described anywhere.

    A project needs a description for every character, so the name stands in for
    it; :func:`undescribed` finds these afterwards so the artist is told to fill
    them in.
    """
    return CharacterSpec(name=name, description=name, line=line)


def undescribed(characters: Sequence[CharacterSpec]) -> list[str]:
    """Names whose description is still only the name (see :func:`undescribed_character`)."""
    return [c.name for c in characters if c.description.strip() == c.name]
