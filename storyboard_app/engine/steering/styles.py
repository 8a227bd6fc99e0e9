"""A project's named style on the prompts a render sends.

Panel prompts and identity prompts go inside the style's template and its
negative joins theirs, so a character's identity is drawn in the same style as
the panels that read it. The name is part of the identity cache key and of
each take (the styled prompts are recorded as sent).
"""

from __future__ import annotations

from storyboard_app.project.prompts import styled_negative, styled_prompt
from storyboard_app.project.styles import NO_STYLE

__all__ = ["style_key", "styled_negative", "styled_prompt"]


def style_key(style: str) -> dict[str, object]:
    """The identity cache key's part for the style: none for "none", so keys stay."""
    return {} if style == NO_STYLE else {"style": style}
