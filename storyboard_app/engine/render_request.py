"""What a render job needs and what it reports: plain, frozen data.

One :class:`RenderRequest` holds everything that reproduces a render; the
renderer answers with a few typed events. Nothing here holds an ORM object or
a tensor, so requests and events can cross threads (the worker) as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.frame_sizes import DEFAULT_ASPECT_RATIO
from storyboard_app.project.ip_adapters import find_kind
from storyboard_app.project.records import TakeParams
from storyboard_app.project.settings import ConsistencySettings


@dataclass(frozen=True)
class ReferencePicture:
    """A character's reference picture: where it is, its content hash, how much it steers."""

    path: Path
    digest: str
    strength: float = 1.0


@dataclass(frozen=True)
class IpAdapterJob:
    """A character's reference picture read by an IP-Adapter at ``scale`` (above 0).

    ``adapter`` is a kind (``sd15``, ``sdxl-plus-face``...) or a local file's path.
    """

    adapter: str
    scale: float
    picture: Path
    picture_digest: str

    def record(self) -> dict[str, Any]:
        """What a take and an identity cache key keep of it (a local file by its name,
        so caches built on another machine are found)."""
        return {
            "adapter": self.adapter if find_kind(self.adapter) else Path(self.adapter).name,
            "scale": self.scale,
            "picture": self.picture_digest,
        }


@dataclass(frozen=True)
class LoraJob:
    """A LoRA to render with: everywhere (``character`` None) or for one character."""

    name: str
    path: Path
    digest: str
    scale: float
    character: str | None = None
    trigger: str = ""

    def record(self) -> dict[str, Any]:
        """What a take and an identity cache key keep of it."""
        return {"name": self.name, "digest": self.digest, "scale": self.scale}


@dataclass(frozen=True)
class CharacterIdentity:
    """A character as the renderer sees it: its identity prompts are rendered together."""

    name: str
    description: str
    negative_prompt: str
    seed: int
    identity_prompts: tuple[str, ...]
    framings: tuple[str, ...] = ()  # the character's own; () when it uses the defaults
    reference: ReferencePicture | None = None
    ip_adapter: IpAdapterJob | None = None


@dataclass(frozen=True)
class PanelJob:
    """One panel to render: the prompt is already expanded (tags replaced by descriptions)."""

    scene_id: int
    number: int
    prompt: str
    negative_prompt: str
    seed: int
    characters: tuple[str, ...]


@dataclass(frozen=True)
class RenderRequest:
    """A render job. A ``width`` and ``height`` of 0 (auto) fit ``aspect_ratio`` to the
    model's native pixel count; one auto side alone is the model's native side."""

    model_source: str
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str
    consistency: ConsistencySettings
    schedule_seed: int
    characters: tuple[CharacterIdentity, ...]
    panels: tuple[PanelJob, ...]
    device: str | None = None
    dtype: str | None = None
    low_vram: str | None = None
    cache_dir: Path | None = None
    identity_cache_precision: str = "fp16"
    identity_cache_budget_gb: float = 20.0
    freeu: str = "off"
    style: str = "none"  # the project's named style (project/styles.py)
    loras: tuple[LoraJob, ...] = ()
    aspect_ratio: str = DEFAULT_ASPECT_RATIO

    def character(self, name: str) -> CharacterIdentity:
        return next(c for c in self.characters if c.name == name)

    def take_params(
        self, panel: PanelJob, identity_fingerprint: str, shared_with: tuple[int, ...] = ()
    ) -> TakeParams:
        """What a finished panel records so that it can be reproduced.

        ``shared_with``: scene ids of the panels whose tokens it saw (only with
        ``share_between_panels``); a panel that saw none re-renders alone.
        """
        consistency = self.consistency_record()
        active = self.loras_for(panel.characters)
        if active:
            consistency["loras"] = [lora.record() for lora in active]
        adapters = self.ip_adapters_for(panel.characters)
        if adapters:
            consistency["ip_adapters"] = {name: job.record() for name, job in adapters.items()}
        if shared_with:
            consistency["shared_with"] = list(shared_with)
        return TakeParams(
            width=self.width,
            height=self.height,
            model_source=self.model_source,
            seed=panel.seed,
            steps=self.steps,
            guidance=self.guidance,
            scheduler=self.scheduler,
            prompt=panel.prompt,
            negative_prompt=panel.negative_prompt,
            consistency=consistency,
            identity_fingerprint=identity_fingerprint,
            freeu=self.freeu,
            style=self.style,
        )

    def loras_for(self, characters: tuple[str, ...]) -> tuple[LoraJob, ...]:
        """The LoRAs active for an image of ``characters``: the project's and theirs."""
        return tuple(
            lora for lora in self.loras if lora.character is None or lora.character in characters
        )

    def ip_adapters_for(self, characters: tuple[str, ...]) -> dict[str, IpAdapterJob]:
        """The IP-Adapters of ``characters`` (those that have one), by character name."""
        jobs = {c.name: c.ip_adapter for c in self.characters if c.name in characters}
        return {name: job for name, job in jobs.items() if job is not None}

    def consistency_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self.consistency)
        record["blocks"] = list(record["blocks"])
        record["schedule_seed"] = self.schedule_seed
        return record

    def identity_record(self) -> dict[str, Any]:
        """The consistency settings an identity cache depends on (not how panels batch)."""
        record = self.consistency_record()
        for panel_only in ("window_size", "share_between_panels"):
            record.pop(panel_only)
        return record


@dataclass(frozen=True)
class RenderProgress:
    """One denoising step done. ``previews`` maps scene ids (or character names) to RGB arrays,
    made only when read (see :class:`~storyboard_app.engine.preview.LatentPreviews`)."""

    stage: str
    label: str
    step: int
    steps: int
    pass_index: int
    pass_count: int
    previews: Mapping[int | str, np.ndarray]


@dataclass(frozen=True)
class PanelRendered:
    scene_id: int
    png: bytes
    params: TakeParams


@dataclass(frozen=True)
class IdentityReady:
    """A character's identity cache is available (built now, or loaded from disk)."""

    character: str
    built: bool
    nbytes: int


RenderEvent = RenderProgress | PanelRendered | IdentityReady
EventSink = Callable[[RenderEvent], None]
CancelCheck = Callable[[], bool]


class RenderCancelled(StoryboardError):
    """The user cancelled; panels finished before the cancel are kept, nothing partial is."""

    def __init__(self) -> None:
        super().__init__("The render was cancelled.", "Finished panels were kept.")
