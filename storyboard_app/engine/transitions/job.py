"""Making a project's transition: from the store to a request, frames back as media.

:func:`build_transition_request` reads everything from the project into one
frozen :class:`TransitionRequest` (plain data, panel images as PNG bytes)
and checks it before any work; :func:`make_transition_frames` needs nothing
but that request (and a loaded motion model for generated ones), so it can
run on a worker thread. :func:`generate_transition` joins the two.

The store is written once, after every frame exists: a cancelled or killed
job leaves the project exactly as it was (an earlier transition between the
panels included). A failed one is recorded as ``failed`` with its error in the
transition's settings, so the timeline can show what went wrong, unless a
finished transition is already there: that one is kept.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from storyboard_app.engine.transitions.classic import morph_frames, resize_to
from storyboard_app.engine.transitions.errors import (
    MissingPanelImageError,
    TransitionCancelled,
    TransitionFailedError,
    TransitionInputError,
)
from storyboard_app.engine.transitions.generated import MotionSettings, generate_motion_frames
from storyboard_app.engine.transitions.motion_model import (
    MotionModel,
    MotionSources,
    check_motion_sources,
    load_motion_model,
    sources_for_model,
)
from storyboard_app.project.errors import StoryboardError, ValidationError
from storyboard_app.project.grammar import plural, with_article
from storyboard_app.project.prompts import compose_prompt, join_phrases
from storyboard_app.project.records import SceneRecord, TransitionRecord
from storyboard_app.project.settings import TRANSITION_KINDS
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.transitions import TransitionResult

GENERATED_KINDS = ("crossfade", "morph", "motion")
DEFAULT_DURATION = 1.0
DEFAULT_MOTION_FRAMES = 16
MOTION_LONG_SIDE = 512
MAX_CLASSIC_FRAMES = 600
MOTION_FRAME_RANGE = (3, 32)
MOTION_SIZE_MULTIPLE = 8
_MOTION_DEFAULTS = MotionSettings()
_RETRY_HINT = "Try again; if it keeps failing, try another kind or fewer frames."


@dataclass(frozen=True)
class TransitionProgress:
    """Work done: ``stage`` is "loading", "frames" (morph, crossfade) or "denoising" (motion)."""

    stage: str
    step: int
    steps: int


ProgressSink = Callable[[TransitionProgress], None]
CancelCheck = Callable[[], bool]


MAX_MOTION_STEPS = 1000
MAX_MOTION_GUIDANCE = 50.0


@dataclass(frozen=True)
class TransitionOptions:
    """Per-job choices over the defaults (from the CLI or the app); None keeps the default."""

    frames: int | None = None
    duration: float | None = None
    size: tuple[int, int] | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    sources: MotionSources | None = None
    # Parts named by the caller (``base``, ``motion_adapter``...) over the ones that match
    # the project's panel model; ignored when ``sources`` is given whole.
    motion_parts: tuple[tuple[str, str], ...] = ()
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self) -> None:
        """Refuse values that can never work, before anything is read or loaded."""
        if self.frames is not None and self.frames < 1:
            raise ValidationError(
                f"A transition of {self.frames} frames has nothing to show.",
                "Give --frames 1 or more, or leave it out for the default.",
            )
        if self.steps is not None and not 1 <= self.steps <= MAX_MOTION_STEPS:
            raise ValidationError(
                f"{self.steps} denoising steps is out of range.",
                f"Use 1 to {MAX_MOTION_STEPS} steps, or leave it out for the default.",
            )
        if self.guidance is not None and not (
            math.isfinite(self.guidance) and 0 <= self.guidance <= MAX_MOTION_GUIDANCE
        ):
            raise ValidationError(
                f"A guidance scale of {self.guidance} is out of range.",
                f"Use a number from 0 to {MAX_MOTION_GUIDANCE:g}, or leave it out for the default.",
            )


@dataclass(frozen=True)
class TransitionRequest:
    """Everything that makes one transition, as plain data that can cross threads.

    ``frames`` are the frames the transition gets (for ``motion`` both end
    frames included, held to the panels; for the others only frames strictly
    between the panels). ``width``/``height`` are the frames' size.
    """

    from_scene_id: int
    to_scene_id: int
    from_number: int
    to_number: int
    kind: str
    frames: int
    duration: float
    width: int
    height: int
    start_png: bytes = field(repr=False)
    end_png: bytes = field(repr=False)
    from_take_id: int = 0
    to_take_id: int = 0
    seed: int = 0
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = MotionSettings.steps
    guidance: float = MotionSettings.guidance
    sources: MotionSources | None = None
    device: str | None = None
    dtype: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} between panels {self.from_number} and {self.to_number}"

    def settings_record(self) -> dict[str, Any]:
        """What the project keeps with the transition to describe and reproduce it."""
        record: dict[str, Any] = {
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "from_take_id": self.from_take_id,
            "to_take_id": self.to_take_id,
        }
        if self.kind == "motion" and self.sources is not None:
            record |= {
                "seed": self.seed,
                "steps": self.steps,
                "guidance": self.guidance,
                "prompt": self.prompt,
                "negative_prompt": self.negative_prompt,
                "sources": self.sources.record(),
            }
        return record

    def motion_settings(self) -> MotionSettings:
        return MotionSettings(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            frames=self.frames,
            width=self.width,
            height=self.height,
            steps=self.steps,
            guidance=self.guidance,
            seed=self.seed,
        )


def build_transition_request(
    store: ProjectStore,
    from_scene_id: int,
    to_scene_id: int,
    kind: str,
    options: TransitionOptions = TransitionOptions(),
) -> TransitionRequest:
    """Read and check everything a transition needs; raises before any work is done."""
    if kind not in GENERATED_KINDS:
        raise ValidationError(
            f"{kind!r} is not a transition that has frames to make.",
            "Use one of: " + ", ".join(GENERATED_KINDS) + " (a cut needs no frames).",
        )
    start, end = store.scenes.get(from_scene_id), store.scenes.get(to_scene_id)
    check_neighbours(start, end)
    start_png, end_png = panel_png(store, start), panel_png(store, end)
    width, height = _frame_size(kind, start_png, options.size)
    duration = _duration(store, start.id, end.id, options.duration)
    frames = (
        options.frames
        if options.frames is not None
        else _default_frames(kind, duration, store.settings().frame_rate)
    )
    _check_frames(kind, frames)
    return TransitionRequest(
        from_scene_id=start.id,
        to_scene_id=end.id,
        from_number=start.number,
        to_number=end.number,
        kind=kind,
        frames=frames,
        duration=duration,
        width=width,
        height=height,
        start_png=start_png,
        end_png=end_png,
        from_take_id=start.active_take_id or 0,
        to_take_id=end.active_take_id or 0,
        seed=start.seed if options.seed is None else options.seed,
        prompt=_motion_prompt(store, start, end),
        negative_prompt=join_phrases(start.negative_prompt, end.negative_prompt),
        steps=_MOTION_DEFAULTS.steps if options.steps is None else options.steps,
        guidance=_MOTION_DEFAULTS.guidance if options.guidance is None else options.guidance,
        sources=_motion_sources(store, options) if kind == "motion" else None,
        device=options.device,
        dtype=options.dtype,
    )


def _motion_sources(store: ProjectStore, options: TransitionOptions) -> MotionSources:
    """The given sources, else the family of the project's panel model (SDXL or SD 1.5)."""
    if options.sources is not None:
        return options.sources
    return sources_for_model(store.settings().model_source, **dict(options.motion_parts))


def check_neighbours(start: SceneRecord, end: SceneRecord) -> None:
    if end.position != start.position + 1:
        raise ValidationError(
            f"Panels {start.number} and {end.number} are not neighbours.",
            "A transition joins a panel to the next one, e.g. panels 3 and 4.",
        )


def panel_png(store: ProjectStore, scene: SceneRecord) -> bytes:
    """The active take's image of ``scene``; a clear error when the panel has none."""
    if scene.active_take_id is None:
        raise MissingPanelImageError(
            f"Panel {scene.number} has no image yet, so a transition cannot start or end on it.",
            f"Render panel {scene.number} first (storyboard render --scenes {scene.number}), "
            "or import an image for it.",
        )
    return store.media.read_bytes(store.takes.get(scene.active_take_id).media)


def make_transition_frames(
    request: TransitionRequest,
    motion_model: MotionModel | None = None,
    on_progress: ProgressSink = lambda event: None,
    is_cancelled: CancelCheck = lambda: False,
) -> list[np.ndarray]:
    """The transition's frames (RGB uint8); raises TransitionCancelled when cancelled.

    A crossfade has none to keep: players blend its two panels as they play
    (see :mod:`storyboard_app.export.frames`), camera moves included.
    """
    size = (request.width, request.height)
    start = resize_to(decode_png(request.start_png), size)
    end = resize_to(decode_png(request.end_png), size)
    if request.kind == "motion":
        return _motion_frames(request, start, end, motion_model, on_progress, is_cancelled)
    report = _frame_reporter(on_progress)
    if request.kind == "crossfade":
        report(request.frames, request.frames)
        return []
    return morph_frames(start, end, request.frames, on_frame=report, is_cancelled=is_cancelled)


def generate_transition(
    store: ProjectStore,
    from_scene_id: int,
    to_scene_id: int,
    kind: str,
    frames: int | None = None,
    *,
    options: TransitionOptions = TransitionOptions(),
    motion_model: MotionModel | None = None,
    on_progress: ProgressSink = lambda event: None,
    is_cancelled: CancelCheck = lambda: False,
) -> TransitionRecord:
    """Make the transition between two neighbouring panels and store it as ready.

    A ``cut`` is only recorded. Other kinds: errors in the request are raised
    with nothing stored; a cancel (TransitionCancelled) leaves the project as
    it was; any failure while making frames is stored as status ``failed``
    and raised as TransitionFailedError.
    """
    if kind not in TRANSITION_KINDS:
        raise ValidationError(
            f"{kind!r} is not a transition kind.", "Use one of: " + ", ".join(TRANSITION_KINDS)
        )
    if kind == "cut":
        return store.transitions.set(from_scene_id, to_scene_id, kind="cut", duration=0.0)
    if frames is not None:
        options = dataclasses.replace(options, frames=frames)
    request = build_transition_request(store, from_scene_id, to_scene_id, kind, options)
    if request.sources is not None and motion_model is None:
        check_motion_sources(request.sources)  # before anything is loaded or recorded
    try:
        images = make_transition_frames(request, motion_model, on_progress, is_cancelled)
    except TransitionCancelled:
        raise
    except Exception as exc:
        raise record_failure(store, request, exc) from exc
    return store_frames(store, request, images)


def store_frames(
    store: ProjectStore, request: TransitionRequest, images: list[np.ndarray]
) -> TransitionRecord:
    """Write the frames as PNG media, then the transition as ready with them in one commit:
    until that commit the project still holds the transition it had before."""
    media = tuple(
        store.media.put_image_bytes(encode_png(image), what="A transition frame")
        for image in images
    )
    result = TransitionResult(
        request.kind,
        request.duration,
        len(media) or request.frames,
        "ready",
        media=media,
        settings=request.settings_record(),
        from_take_id=request.from_take_id or None,
        to_take_id=request.to_take_id or None,
    )
    return store.transitions.save(request.from_scene_id, request.to_scene_id, result)


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).copy()


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _motion_frames(
    request: TransitionRequest,
    start: np.ndarray,
    end: np.ndarray,
    model: MotionModel | None,
    on_progress: ProgressSink,
    is_cancelled: CancelCheck,
) -> list[np.ndarray]:
    if model is None:
        on_progress(TransitionProgress("loading", 0, 1))
        model = load_motion_model(
            request.sources or MotionSources(), device=request.device, dtype=request.dtype
        )
        on_progress(TransitionProgress("loading", 1, 1))
    return generate_motion_frames(
        model,
        start,
        end,
        request.motion_settings(),
        on_step=lambda step, steps: on_progress(TransitionProgress("denoising", step, steps)),
        is_cancelled=is_cancelled,
    )


def _frame_reporter(on_progress: ProgressSink) -> Callable[[int, int], None]:
    return lambda done, total: on_progress(TransitionProgress("frames", done, total))


def record_failure(
    store: ProjectStore, request: TransitionRequest, exc: Exception
) -> TransitionFailedError:
    """Record the failure (a finished transition already there is kept) and return the
    error to raise."""
    detail, hint = f"{type(exc).__name__}: {exc}", _RETRY_HINT
    if isinstance(exc, StoryboardError):
        detail, hint = exc.message, exc.hint or _RETRY_HINT
    message = f"Making the {request.label} failed: {detail}"
    result = TransitionResult(
        request.kind,
        request.duration,
        request.frames,
        "failed",
        settings={**request.settings_record(), "error": message},
    )
    kept = store.transitions.save_failure(request.from_scene_id, request.to_scene_id, result)
    if kept.status == "ready":
        hint = f"The {kept.kind} that was there is kept. {hint}"
    return TransitionFailedError(message, hint)


def _frame_size(kind: str, start_png: bytes, size: tuple[int, int] | None) -> tuple[int, int]:
    """The frames' size: as asked, else the first panel's (motion: scaled to 512 px, /8)."""
    if size is not None:
        width, height = size
    else:
        with Image.open(io.BytesIO(start_png)) as image:
            width, height = image.size
        if kind == "motion":
            scale = MOTION_LONG_SIDE / max(width, height)
            width, height = round(width * scale), round(height * scale)
    if kind == "motion":
        width, height = (_multiple_of(v, MOTION_SIZE_MULTIPLE) for v in (width, height))
    if min(width, height) < 8:
        raise TransitionInputError(
            f"A transition of {width}x{height} px is too small.", "Use at least 8x8 px."
        )
    return width, height


def _multiple_of(value: int, step: int) -> int:
    return max(step, round(value / step) * step)


def _duration(store: ProjectStore, from_id: int, to_id: int, asked: float | None) -> float:
    """As asked, else the existing transition's duration (if it has one), else the default."""
    if asked is not None:
        if not 0 < asked <= 60:
            raise ValidationError(
                f"A transition of {asked:g} s is out of range.", "Use more than 0 and up to 60 s."
            )
        return asked
    for existing in store.transitions.list():
        same_pair = (existing.from_scene_id, existing.to_scene_id) == (from_id, to_id)
        if same_pair and existing.duration > 0:
            return existing.duration
    return DEFAULT_DURATION


def _default_frames(kind: str, duration: float, frame_rate: int) -> int:
    if kind == "motion":
        return DEFAULT_MOTION_FRAMES
    return max(1, round(duration * frame_rate))


def _check_frames(kind: str, frames: int) -> None:
    low, high = MOTION_FRAME_RANGE if kind == "motion" else (1, MAX_CLASSIC_FRAMES)
    if not low <= frames <= high:
        raise ValidationError(
            f"{with_article(kind).capitalize()} transition of {plural(frames, 'frame')} "
            "is out of range.",
            f"Use {low} to {high} frames.",
        )


def _motion_prompt(store: ProjectStore, start: SceneRecord, end: SceneRecord) -> str:
    """Both panels' prompts as rendered (tags expanded, style added), first to last."""
    characters = {c.name: c for c in store.characters.list()}
    style = store.settings().style_preset
    prompts = [compose_prompt(s.prompt, s.character_names, characters, style) for s in (start, end)]
    return "; then ".join(dict.fromkeys(prompts))
