"""ConsiStory+: render its prompt sets as stories and score them with CLIP and DINOv2.

The benchmark (``resources/benchmarks/consistory_plus.yaml``, MIT, from the
1Prompt1Story release) has eight domains of prompt sets; a set is one subject
in several settings. Its convention is the prompt ``"{style} {subject}
{setting}"`` at seed 42. Here each set is a story with one character (the
subject is its description) and one panel per setting, ``{style} [Subject]
{setting}`` with seed 42, rendered through the same path as ``storyboard
render``: a project, ``build_render_request``, ``StoryRenderer`` with identity
caches. Scores: CLIP-T (each frame against its prompt, on CLIPScore's 2.5 x
cosine scale), CLIP-I and DINO (mean cosine between the frames of a set).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image

from storyboard_app.engine.evaluation.metrics import (
    ClipEmbedder,
    DinoEmbedder,
    clip_t,
    mean_pairwise_cosine,
)
from storyboard_app.engine.project_render import RenderOptions, build_render_request
from storyboard_app.engine.render_request import PanelRendered
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore

SEED = 42
CHARACTER = "Subject"
PUBLISHED_CLIP_T = {"1Prompt1Story": 0.8942, "StoryDiffusion": 0.8877, "ConsiStory": 0.8769}
"""CLIP-T on ConsiStory+ as published with 1Prompt1Story (their evaluation code)."""


@dataclass(frozen=True)
class PromptSet:
    """One subject in several settings."""

    domain: str
    subject: str
    style: str
    settings: tuple[str, ...]

    def prompts(self) -> list[str]:
        """The benchmark's convention, ``"{style} {subject} {setting}"``."""
        return [f"{self.style} {self.subject} {s}" for s in self.settings]


@dataclass
class SetScore:
    """A rendered set's scores."""

    prompt_set: PromptSet
    clip_t: list[float]
    clip_i: float | None
    dino: float | None


@dataclass(frozen=True)
class EvalOptions:
    """What to render with; None keeps the project defaults (the model's native size)."""

    model_source: str
    steps: int | None = None
    size: int | None = None
    device: str | None = None
    dtype: str | None = None


@dataclass
class Report:
    """Every set's scores, in order."""

    options: EvalOptions
    scores: list[SetScore] = field(default_factory=list)


def benchmark_file() -> Path:
    return resources_dir() / "benchmarks" / "consistory_plus.yaml"


def load_sets(path: Path | None = None) -> list[PromptSet]:
    """Every prompt set, taken round-robin over the domains (so the first N cover many)."""
    path = path or benchmark_file()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    domains = [
        [PromptSet(domain, e["subject"], e["style"], tuple(e["settings"])) for e in entries]
        for domain, entries in data.items()
    ]
    longest = max(len(d) for d in domains)
    return [d[i] for i in range(longest) for d in domains if i < len(d)]


def choose_sets(sets: Sequence[PromptSet], count: int | None) -> list[PromptSet]:
    if count is None:
        return list(sets)
    if not 1 <= count <= len(sets):
        raise ValidationError(
            f"{count} sets is not a choice.", f"Use --sets from 1 to {len(sets)}."
        )
    return list(sets[:count])


def render_set(
    renderer_for: Callable[[object], StoryRenderer],
    prompt_set: PromptSet,
    options: EvalOptions,
    folder: Path,
) -> list[Image.Image]:
    """The set as a one-character story in a temporary project; its frames in order."""
    with ProjectStore.create(folder / "set.storyboard") as store:
        store.characters.add(CHARACTER, prompt_set.subject, seed=SEED)
        ids = [
            store.scenes.add(f"{prompt_set.style} [{CHARACTER}] {setting}", seed=SEED).id
            for setting in prompt_set.settings
        ]
        request = build_render_request(
            store,
            options=RenderOptions(
                model_source=options.model_source,
                steps=options.steps,
                width=options.size,
                height=options.size,
                device=options.device,
                dtype=options.dtype,
            ),
        )
        frames: dict[int, Image.Image] = {}

        def collect(event: object) -> None:
            if isinstance(event, PanelRendered):
                frames[event.scene_id] = Image.open(io.BytesIO(event.png)).convert("RGB")

        renderer_for(request).render(request, collect)
    return [frames[i] for i in ids]


def evaluate(
    sets: Iterable[PromptSet],
    options: EvalOptions,
    renderer_for: Callable[[object], StoryRenderer],
    clip: ClipEmbedder,
    dino: DinoEmbedder | None,
    on_set: Callable[[int, PromptSet], None] = lambda index, prompt_set: None,
) -> Report:
    """Render and score every set."""
    report = Report(options)
    for index, prompt_set in enumerate(sets):
        on_set(index, prompt_set)
        with tempfile.TemporaryDirectory() as tmp:
            frames = render_set(renderer_for, prompt_set, options, Path(tmp))
        images = clip.images(frames)
        report.scores.append(
            SetScore(
                prompt_set,
                clip_t(images, clip.texts(prompt_set.prompts())),
                mean_pairwise_cosine(images),
                mean_pairwise_cosine(dino.images(frames)) if dino is not None else None,
            )
        )
    return report


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _row(label: str, scores: Sequence[SetScore]) -> str:
    frames = sum(len(s.clip_t) for s in scores)
    cells = [
        _mean(t for s in scores for t in s.clip_t),
        _mean(s.clip_i for s in scores),
        _mean(s.dino for s in scores),
    ]
    return f"| {label} | {len(scores)} | {frames} | " + " | ".join(map(_cell, cells)) + " |"


def overall_clip_t(report: Report) -> float | None:
    return _mean(t for s in report.scores for t in s.clip_t)


def markdown(report: Report) -> str:
    """The per-domain table, the overall row, and the published CLIP-T beside this run's."""
    options = report.options
    size = f"{options.size} px" if options.size else "the model's native size"
    steps = f"{options.steps} steps" if options.steps else "the project's default steps"
    domains = list(dict.fromkeys(s.prompt_set.domain for s in report.scores))
    lines = [
        f"# ConsiStory+ with {options.model_source}",
        "",
        f'Prompts "{{style}} {{subject}} {{setting}}", seed {SEED}, {size}, {steps}; one '
        "character per set, rendered as a story with consistency on. CLIP-T is 2.5 x the "
        "cosine of frame and prompt (CLIPScore's scale); CLIP-I and DINO are mean cosines "
        "between the frames of a set.",
        "",
        "| domain | sets | frames | CLIP-T | CLIP-I | DINO |",
        "|---|---|---|---|---|---|",
        *(_row(d, [s for s in report.scores if s.prompt_set.domain == d]) for d in domains),
        _row("overall", report.scores),
        "",
        "| method | CLIP-T |",
        "|---|---|",
        f"| this run ({options.model_source}) | {_cell(overall_clip_t(report))} |",
        *(f"| {name} (published) | {value:.4f} |" for name, value in PUBLISHED_CLIP_T.items()),
        "",
        "The published figures come from the authors' evaluation code on all 192 sets; "
        "compare with care, especially on fewer sets.",
    ]
    return "\n".join(lines) + "\n"
