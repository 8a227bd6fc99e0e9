"""A story as plain data: what story scripts parse into and what the store exports.

Parsers (TOML, StoryDiffusion text) produce a :class:`StoryScript`; the store
imports it in one transaction and can export a project back to one. Keeping this
plain means the formats never touch the database and the store never parses text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyboard_app.project.camera import CameraMove


@dataclass(frozen=True)
class CharacterSpec:
    name: str
    description: str
    negative_prompt: str = ""
    seed: int | None = None
    color: str | None = None
    reference_image: Path | None = None
    line: int | None = None
    identity_framings: tuple[str, ...] = ()
    reference_strength: float = 1.0  # how much the reference picture steers (0 to 1)
    ip_adapter: str = ""  # the IP-Adapter reading the picture: a kind or a .safetensors path
    ip_adapter_scale: float = 0.6


@dataclass(frozen=True)
class TransitionSpec:
    """The transition from a scene to the next one."""

    kind: str = "cut"
    duration: float = 0.5
    frames: int | None = None


@dataclass(frozen=True)
class SceneSpec:
    prompt: str
    characters: tuple[str, ...] = ()
    negative_prompt: str = ""
    caption: str = ""  # the narration, drawn in a caption box
    dialogue: str = ""  # speech, one balloon per line ("Mara: Run!")
    notes: str = ""
    shot_type: str = ""
    duration: float | None = None
    seed: int | None = None
    seed_locked: bool = False
    transition_to_next: TransitionSpec | None = None
    camera_move: CameraMove | None = None
    line: int | None = None


@dataclass(frozen=True)
class StoryScript:
    title: str
    characters: tuple[CharacterSpec, ...] = ()
    scenes: tuple[SceneSpec, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
