"""A project's named style on the prompts a render sends.

Panel prompts and identity prompts go inside the style's template and its
negative joins theirs, so a character's identity is drawn in the same style as
the panels that read it. The name is part of the identity cache key and of
each take (the styled prompts are recorded as sent).
"""

from __future__ import annotations

from storyboard_app.project.styles import NO_STYLE, find_style


def styled_prompt(style: str, prompt: str) -> str:
    """``prompt`` inside the template of ``style`` (unchanged for "none")."""
    return prompt if style == NO_STYLE else find_style(style).apply(prompt)


def styled_negative(style: str, negative: str) -> str:
    """``negative`` with the negative of ``style`` added (unchanged for "none")."""
    extra = "" if style == NO_STYLE else find_style(style).negative
    return ", ".join(part for part in (negative.strip(), extra.strip()) if part)


def style_key(style: str) -> dict[str, object]:
    """The identity cache key's part for the style: none for "none", so keys stay."""
    return {} if style == NO_STYLE else {"style": style}
