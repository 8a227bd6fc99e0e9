"""Named style templates: a positive template around a prompt, and a negative.

The templates ship as ``resources/styles.toml`` (found through
:mod:`storyboard_app.project.bundled`), so their wording can change without
code. A project chooses one by name (``style``, ``"none"`` by default); the
engine wraps every panel prompt and identity prompt in it and adds its negative.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.errors import ValidationError

STYLES_FILE = "styles.toml"
NO_STYLE = "none"
PROMPT_SLOT = "{prompt}"


@dataclass(frozen=True)
class StyleTemplate:
    """One named style; ``positive`` holds ``{prompt}`` where the prompt goes."""

    name: str
    positive: str
    negative: str

    def apply(self, prompt: str) -> str:
        """``prompt`` inside the template (the template alone for an empty prompt)."""
        return self.positive.replace(PROMPT_SLOT, prompt).strip(" ,")


def styles_path() -> Path:
    return resources_dir() / STYLES_FILE


def load_styles(path: Path | None = None) -> dict[str, StyleTemplate]:
    """The shipped styles by name, in file order ("none" first)."""
    source = path or styles_path()
    with source.open("rb") as handle:
        data = tomllib.load(handle)
    styles = {
        entry["name"]: StyleTemplate(entry["name"], entry["positive"], entry.get("negative", ""))
        for entry in data.get("styles", [])
    }
    styles.setdefault(NO_STYLE, StyleTemplate(NO_STYLE, PROMPT_SLOT, ""))
    return styles


def style_names() -> tuple[str, ...]:
    return tuple(load_styles())


def find_style(name: str) -> StyleTemplate:
    """The style called ``name``, or an error listing the names there are."""
    styles = load_styles()
    if name not in styles:
        raise ValidationError(f"'{name}' is not a style.", "Use one of: " + ", ".join(styles) + ".")
    return styles[name]
