"""The prompt a panel is rendered with, as text: one definition for the engine and the editor.

The engine sends it to the text encoder and records it in the take; the editor
counts its tokens while the artist types and marks the part of the Action field
the encoder will never see. Both need the same words in the same order, so the
composition lives here, free of torch: LoRA trigger words, the shot type (when
the project adds it), characters named but not tagged, the Action with each
``[Name]`` replaced by the description, the style preset, all inside the style
template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from storyboard_app.project.records import CharacterRecord, LoraRecord, SceneRecord
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.styles import NO_STYLE, find_style
from storyboard_app.project.tags import NO_CHARACTER_TAG, TAG_PATTERN, expand_tags

# How a shot type reads in a prompt: the words image models were captioned with.
SHOT_PHRASES: dict[str, str] = {
    "establishing": "establishing shot",
    "wide": "wide shot",
    "full": "full shot",
    "medium": "medium shot",
    "medium close-up": "medium close-up shot",
    "close-up": "close-up shot",
    "extreme close-up": "extreme close-up shot",
    "over the shoulder": "over-the-shoulder shot",
    "point of view": "point-of-view shot",
    "insert": "insert shot",
}
_SPACE_RUN = re.compile(r"\s{2,}")


@dataclass(frozen=True)
class SentPrompt:
    """The prompt as sent, and where the panel's Action text sits in it.

    ``origins[i]`` is the index in the Action text that character
    ``action_start + i`` of ``text`` comes from (a tag's description points at
    its tag); ``action_start`` is -1 when the Action adds no words.
    """

    text: str
    action_start: int
    origins: tuple[int, ...]

    def action_offset(self, offset: int) -> int | None:
        """Where in the Action text the prompt's character ``offset`` comes from: 0 when
        it lies before the Action (all of the Action is after it), None after it."""
        if self.action_start < 0 or offset >= self.action_start + len(self.origins):
            return None
        return 0 if offset < self.action_start else self.origins[offset - self.action_start]


def shot_phrase(shot_type: str, settings: ProjectSettings) -> str:
    """``"close-up shot"`` for a close-up panel when the project adds shot types, else ``""``."""
    return SHOT_PHRASES.get(shot_type, "") if settings.shot_in_prompt else ""


def panel_prompt(
    scene: SceneRecord,
    characters: Mapping[str, CharacterRecord],
    settings: ProjectSettings,
    loras: Sequence[LoraRecord] = (),
) -> SentPrompt:
    """The prompt a render of ``scene`` sends; the editor passes the Action being typed."""
    return compose_panel_prompt(
        scene.prompt, scene.character_names, scene.shot_type, characters, settings, loras
    )


def compose_panel_prompt(
    action: str,
    names: Sequence[str],
    shot_type: str,
    characters: Mapping[str, CharacterRecord],
    settings: ProjectSettings,
    loras: Sequence[LoraRecord] = (),
) -> SentPrompt:
    """:func:`panel_prompt` from its parts, so an Action not yet saved can be measured."""
    descriptions = {name: c.description for name, c in characters.items()}
    expanded, origins = expand_tags_mapped(action, descriptions)
    untagged = [descriptions[n] for n in names if n in descriptions and f"[{n}]" not in action]
    parts = [" and ".join(untagged), expanded, settings.style_preset]
    body = ", ".join(part for part in parts if part)
    added = (*triggers(loras, names), shot_phrase(shot_type, settings))
    text = styled_prompt(settings.style, join_phrases(*added, body))
    head = join_phrases(*added)
    return SentPrompt(text, _action_start(text, expanded, head), tuple(origins))


def _action_start(text: str, expanded: str, head: str) -> int:
    """The Action's place in the sent prompt: the first copy after the added words."""
    if not expanded:
        return -1
    start = text.find(expanded, len(head) if text.startswith(head) else 0)
    return start if start >= 0 else text.find(expanded)


def compose_prompt(
    prompt: str, names: Iterable[str], characters: Mapping[str, CharacterRecord], style: str
) -> str:
    """The prompt's words: tags replaced by descriptions, untagged characters put first."""
    descriptions = {name: c.description for name, c in characters.items()}
    untagged = [descriptions[n] for n in names if f"[{n}]" not in prompt]
    parts = [" and ".join(untagged), expand_tags(prompt, descriptions), style]
    return ", ".join(part for part in parts if part)


def join_phrases(*phrases: str) -> str:
    """Prompt phrases joined with commas, empty ones and repeats left out."""
    return ", ".join(dict.fromkeys(p.strip() for p in phrases if p.strip()))


def in_use(loras: Sequence[LoraRecord]) -> list[LoraRecord]:
    """The LoRAs that change a render: a LoRA at scale 0 is left out entirely (not loaded,
    no trigger word, not in keys or takes), so it renders exactly as without it."""
    return [lora for lora in loras if lora.scale != 0.0]


def triggers(loras: Sequence[LoraRecord], names: Sequence[str]) -> list[str]:
    """Trigger words of the LoRAs active for ``names``: the project's and theirs."""
    return [
        lora.trigger
        for lora in in_use(loras)
        if lora.trigger and (lora.character is None or lora.character in names)
    ]


def styled_prompt(style: str, prompt: str) -> str:
    """``prompt`` inside the template of ``style`` (unchanged for "none")."""
    return prompt if style == NO_STYLE else find_style(style).apply(prompt)


def styled_negative(style: str, negative: str) -> str:
    """``negative`` with the negative of ``style`` added (unchanged for "none")."""
    extra = "" if style == NO_STYLE else find_style(style).negative
    return ", ".join(part for part in (negative.strip(), extra.strip()) if part)


def expand_tags_mapped(prompt: str, descriptions: Mapping[str, str]) -> tuple[str, list[int]]:
    """:func:`~storyboard_app.project.tags.expand_tags`, and for each character of the
    result the index in ``prompt`` it comes from (a description: its tag's)."""
    pairs: list[tuple[str, int]] = []
    done = 0
    for match in TAG_PATTERN.finditer(prompt):
        pairs += [(prompt[i], i) for i in range(done, match.start())]
        name = match.group(1).strip()
        replacement = "" if name == NO_CHARACTER_TAG else descriptions.get(name, name)
        pairs += [(letter, match.start()) for letter in replacement]
        done = match.end()
    pairs += [(prompt[i], i) for i in range(done, len(prompt))]
    text = "".join(letter for letter, _ in pairs)
    kept: list[tuple[str, int]] = []
    last = 0
    for run in _SPACE_RUN.finditer(text):
        kept += [*pairs[last : run.start()], (" ", pairs[run.start()][1])]
        last = run.end()
    kept += pairs[last:]
    while kept and kept[0][0].isspace():
        kept.pop(0)
    while kept and kept[-1][0].isspace():
        kept.pop()
    return "".join(letter for letter, _ in kept), [origin for _, origin in kept]
