"""Character tags in prompts: ``[Name]`` marks a character, ``[NC]`` a panel without any."""

from __future__ import annotations

import re

NO_CHARACTER_TAG = "NC"
TAG_PATTERN = re.compile(r"\[([^\[\]#\n]+)\]")


def find_tags(text: str) -> list[str]:
    """Tag names in order of first appearance, without duplicates."""
    seen: dict[str, None] = {}
    for match in TAG_PATTERN.finditer(text):
        seen.setdefault(match.group(1).strip(), None)
    return list(seen)


def strip_tag_brackets(text: str) -> str:
    """``[Bob] waves`` -> ``Bob waves``: how tags read in captions."""
    return TAG_PATTERN.sub(lambda m: m.group(1).strip(), text)


def untag(prompt: str, name: str) -> str:
    """``[Mara] waves`` -> ``Mara waves``: the tag goes, the prompt still reads.

    This is what "remove the tag" means when a character is deleted, in the app
    and on the command line alike; other characters' tags are left alone.
    """
    return TAG_PATTERN.sub(
        lambda m: m.group(1).strip() if m.group(1).strip() == name else m.group(0), prompt
    )


def expand_tags(prompt: str, descriptions: dict[str, str]) -> str:
    """Replace each ``[Name]`` by that character's description, as StoryDiffusion does.

    Unknown tags are left as plain names; ``[NC]`` is removed.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == NO_CHARACTER_TAG:
            return ""
        return descriptions.get(name, name)

    return re.sub(r"\s{2,}", " ", TAG_PATTERN.sub(replace, prompt)).strip()
