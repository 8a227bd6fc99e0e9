"""Typed project settings: one schema with defaults, shared by store, scripts and engine."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from storyboard_app.project.errors import ValidationError
from storyboard_app.project.frame_sizes import (
    DEFAULT_ASPECT_RATIO,
    NATIVE_SIDES,
    fit_size,
    parse_aspect_ratio,
)
from storyboard_app.project.styles import NO_STYLE, find_style

# Name prefixes of UNet blocks whose self-attention becomes consistent: every
# up-block, the official choice (SDXL: up_blocks.0-1; SD 1.5: up_blocks.1-3).
DEFAULT_CONSISTENCY_BLOCKS: tuple[str, ...] = ("up_blocks",)
SHOT_TYPES: tuple[str, ...] = (
    "",
    "establishing",
    "wide",
    "full",
    "medium",
    "medium close-up",
    "close-up",
    "extreme close-up",
    "over the shoulder",
    "point of view",
    "insert",
)
TRANSITION_KINDS: tuple[str, ...] = ("cut", "crossfade", "morph", "motion")
# A cut or crossfade needs no frames; a morph or motion has frames made from both panels.
FRAMELESS_KINDS: tuple[str, ...] = ("cut", "crossfade")
GENERATED_KINDS: tuple[str, ...] = ("morph", "motion")


@dataclass(frozen=True)
class ConsistencySettings:
    """How strongly panels share identity through Consistent Self-Attention.

    ``sampling_rate`` applies to the low-resolution level (SDXL's 32x32 tokens at
    1024 px), ``sampling_rate_high_res`` to the high-resolution level; both are the
    probability that a token of another image is visible.

    By default a panel attends to its own tokens and to the identity caches of
    the characters it names, as in the official read phase, so a panel renders
    the same whichever panels share its window. ``share_between_panels`` also
    lets panels naming the same characters see each other's tokens inside a
    window (more alike, but then a panel depends on its window).
    """

    sampling_rate: float = 0.5
    sampling_rate_high_res: float = 0.5
    window_size: int = 6
    identity_images: int = 2
    blocks: tuple[str, ...] = DEFAULT_CONSISTENCY_BLOCKS
    share_between_panels: bool = False

    def __post_init__(self) -> None:
        for name in ("sampling_rate", "sampling_rate_high_res"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(
                    f"Consistency {name.replace('_', ' ')} {value} is out of range.",
                    "Use a value between 0 and 1 (0.3 to 0.7 works best).",
                )
        if self.window_size < 1:
            raise ValidationError(
                f"Consistency window size {self.window_size} is too small.",
                "Use a window of at least 1 image.",
            )
        if not 1 <= self.identity_images <= 8:
            raise ValidationError(
                f"{self.identity_images} identity images per character is out of range.",
                "Use 1 to 8 identity images (2 is the usual choice).",
            )
        if not self.blocks:
            raise ValidationError(
                "No UNet blocks are selected for consistent attention.",
                "Name at least one block, for example up_blocks.0.",
            )


# How identity caches are stored (engine.identity_cache.CACHE_PRECISIONS; a test keeps
# the two equal): 16-bit, or 8-bit float with a scale per entry at half the size.
IDENTITY_CACHE_PRECISIONS: tuple[str, ...] = ("fp16", "fp8")

# A width and height of AUTO_SIZE render the aspect ratio at the loaded model's
# native pixel count: SDXL was trained at 1024 px, SD 1.5 at 512 px (at 1024 px
# SD 1.5 repeats subjects and its top attention level holds 16,384 tokens).
# One auto side alone is the native side.
AUTO_SIZE = 0
NATIVE_SIZES: dict[str, int] = NATIVE_SIDES
DEFAULT_ARCHITECTURE = "sdxl"
FREEU_CHOICES: tuple[str, ...] = ("off", "on")

# The engine's schedulers (engine.loading.SCHEDULER_NAMES; a test keeps the two equal).
SCHEDULER_NAMES: tuple[str, ...] = (
    "euler",
    "euler_a",
    "dpmpp_2m",
    "dpmpp_2m_karras",
    "dpmpp_2m_sde",
    "ddim",
    "unipc",
)


@dataclass(frozen=True)
class ProjectSettings:
    """Render settings of a project; every field has a default so a new project renders."""

    model_source: str = ""
    width: int = AUTO_SIZE
    height: int = AUTO_SIZE
    steps: int = 30
    guidance: float = 5.0
    scheduler: str = "euler"
    style_preset: str = ""
    base_seed: int = 1234
    frame_rate: int = 24
    aspect_ratio: str = DEFAULT_ASPECT_RATIO  # width:height, when the size is auto
    identity_cache_precision: str = "fp16"
    identity_cache_budget_gb: float = 20.0
    freeu: str = "off"
    style: str = NO_STYLE  # a named template of project/styles.py
    shot_in_prompt: bool = True  # "close-up shot" and the like lead each panel's prompt
    consistency: ConsistencySettings = field(default_factory=ConsistencySettings)

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value != AUTO_SIZE and (not 64 <= value <= 4096 or value % 8):
                raise ValidationError(
                    f"Image {name} {value} is not usable.",
                    "Use a multiple of 8 between 64 and 4096 pixels, or auto (0) for the "
                    "model's native size.",
                )
        parse_aspect_ratio(self.aspect_ratio)
        if self.freeu not in FREEU_CHOICES:
            raise ValidationError(
                f"FreeU '{self.freeu}' is not a choice.", "Use freeu=on or freeu=off."
            )
        if self.style != NO_STYLE:
            find_style(self.style)
        if not 1 <= self.steps <= 200:
            raise ValidationError(f"{self.steps} steps is out of range.", "Use 1 to 200 steps.")
        if not 0.0 <= self.guidance <= 50.0:
            raise ValidationError(
                f"Guidance {self.guidance} is out of range.", "Use a guidance scale from 0 to 50."
            )
        if self.scheduler not in SCHEDULER_NAMES:
            raise ValidationError(
                f"'{self.scheduler}' is not a known scheduler.",
                "Use one of: " + ", ".join(SCHEDULER_NAMES) + ".",
            )
        if not 1 <= self.frame_rate <= 120:
            raise ValidationError(
                f"Frame rate {self.frame_rate} is out of range.", "Use 1 to 120 frames per second."
            )
        if self.identity_cache_precision not in IDENTITY_CACHE_PRECISIONS:
            raise ValidationError(
                f"'{self.identity_cache_precision}' is not an identity cache precision.",
                "Use fp16 (the default) or fp8 (half the disk, a small reconstruction error).",
            )
        if not 0.0 < self.identity_cache_budget_gb <= 100_000.0:
            raise ValidationError(
                f"An identity cache budget of {self.identity_cache_budget_gb} GB is not usable.",
                "Use a positive number of gigabytes (20 is the default).",
            )
        if not 0 <= self.base_seed < 2**63:
            raise ValidationError(
                f"Seed {self.base_seed} is out of range.", "Use a non-negative integer seed."
            )

    def render_size(self, architecture: str | None = None) -> tuple[int, int]:
        """(width, height) to render at (see :func:`auto_size`)."""
        return auto_size(self.width, self.height, self.aspect_ratio, architecture)

    def with_changes(self, **changes: Any) -> ProjectSettings:
        """A copy with ``changes`` applied; consistency fields may be given flat."""
        consistency_fields = {f.name for f in dataclasses.fields(ConsistencySettings)}
        flat_consistency = {k: changes.pop(k) for k in list(changes) if k in consistency_fields}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValidationError(
                f"Unknown setting(s): {', '.join(sorted(unknown))}.",
                "Known settings: " + ", ".join(settings_field_names()) + ".",
            )
        if flat_consistency:
            base = changes.get("consistency", self.consistency)
            changes["consistency"] = dataclasses.replace(base, **flat_consistency)
        return dataclasses.replace(self, **changes)


def auto_size(
    width: int, height: int, aspect_ratio: str, architecture: str | None
) -> tuple[int, int]:
    """The size a render uses: both sides auto fit ``aspect_ratio`` to the architecture
    (SDXL about one megapixel on its 64 px buckets, SD 1.5 about 0.26 MP), one auto side
    is the native side, explicit sides stay."""
    architecture = architecture or DEFAULT_ARCHITECTURE
    native = native_size(architecture)
    if width == AUTO_SIZE and height == AUTO_SIZE:
        return fit_size(aspect_ratio, architecture, native)
    return resolve_size(width, native), resolve_size(height, native)


def resolve_size(value: int, native: int) -> int:
    """``value``, or ``native`` when it is auto."""
    return native if value == AUTO_SIZE else value


def native_size(architecture: str) -> int:
    """The size an architecture was trained at (1024 when unknown)."""
    return NATIVE_SIZES.get(architecture, 1024)


def settings_field_names() -> list[str]:
    """Every setting a user can set, consistency fields flattened."""
    top = [f.name for f in dataclasses.fields(ProjectSettings) if f.name != "consistency"]
    return top + [f.name for f in dataclasses.fields(ConsistencySettings)]
