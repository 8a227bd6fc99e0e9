"""Plain, immutable snapshots of project data.

The store returns these instead of ORM objects: they can cross threads, be
compared in tests and outlive the database session that produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storyboard_app.project.camera import CameraMove
from storyboard_app.project.settings import ProjectSettings


@dataclass(frozen=True)
class CharacterRecord:
    id: int
    name: str
    description: str
    negative_prompt: str
    seed: int
    color: str
    reference_media: str | None
    position: int
    # What its identity images show besides the description; () = the default framings.
    identity_framings: tuple[str, ...] = ()
    # How much of the reference picture's tokens its identity cache shares (0 to 1).
    reference_strength: float = 1.0
    # The IP-Adapter reading its reference picture ("" = none; project/ip_adapters.py).
    ip_adapter: str = ""
    ip_adapter_scale: float = 0.6
    # Its own LoRAs in use (scale not 0), as undo_support.lora_signature strings.
    loras: tuple[str, ...] = ()


def lora_signature(digest: str, scale: float, trigger: str) -> str:
    """What of a character's LoRA changes its pictures: the file, the scale, the trigger."""
    return f"{digest}:{float(scale)!r}:{trigger}"


@dataclass(frozen=True)
class LoraRecord:
    """A LoRA of the project; ``character`` is None for a project-wide one."""

    id: int
    name: str
    path: Path
    digest: str
    scale: float
    trigger: str
    character: str | None


@dataclass(frozen=True)
class SceneRecord:
    id: int
    position: int
    prompt: str
    negative_prompt: str
    caption: str
    notes: str
    shot_type: str
    duration: float
    seed: int
    seed_locked: bool
    character_names: tuple[str, ...]
    active_take_id: int | None
    take_count: int
    camera_move: CameraMove | None = None
    dialogue: str = ""
    # The artist chose the active take by hand (Re-render All keeps it unless asked).
    take_picked: bool = False

    @property
    def number(self) -> int:
        """The 1-based panel number artists see."""
        return self.position + 1


@dataclass(frozen=True)
class TakeParams:
    """Everything that produced a take, so it can be reproduced or compared."""

    width: int
    height: int
    model_source: str = ""
    seed: int = 0
    steps: int = 0
    guidance: float = 0.0
    scheduler: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    consistency: dict[str, Any] = field(default_factory=dict)
    identity_fingerprint: str = ""
    source: str = "rendered"
    freeu: str = "off"
    style: str = "none"


@dataclass(frozen=True)
class TakeRecord:
    id: int
    scene_id: int
    media: str
    params: TakeParams
    created_at: datetime
    # Take 1, 2, 3... of its panel, in the order made; 0 only for a record not yet stored.
    number: int = 0

    @property
    def label(self) -> str:
        """How a take is named everywhere: "Take 3"."""
        return f"Take {self.number}"


@dataclass(frozen=True)
class TransitionRecord:
    id: int
    from_scene_id: int
    to_scene_id: int
    kind: str
    duration: float
    frame_count: int
    status: str
    media: tuple[str, ...]
    settings: dict[str, Any]
    from_take_id: int | None = None
    to_take_id: int | None = None


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    path: Path
    schema_revision: str
    settings: ProjectSettings
    character_count: int
    scene_count: int
    rendered_scene_count: int
    take_count: int
    transition_count: int
    stale_transition_count: int
    total_duration: float
    total_frames: int
