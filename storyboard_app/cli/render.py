"""``storyboard render``: panels with consistent characters, from the command line.

Several projects may be given: every one is checked before any model loads,
and the model stays loaded from one project to the next when they ask for the
same one. The engine (torch, diffusers) is imported only when a render runs,
so the other commands start quickly.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    print_json,
)
from storyboard_app.cli.progress import Progress, progress_for
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.grammar import plural
from storyboard_app.project.records import TakeRecord
from storyboard_app.project.store import ProjectStore

if TYPE_CHECKING:
    from storyboard_app.engine.project_render import RenderOptions
    from storyboard_app.engine.render_request import RenderRequest
    from storyboard_app.engine.story_renderer import StoryRenderer

log = logging.getLogger(__name__)


def register_render(commands: Commands) -> None:
    parser = add_command(
        commands,
        "render",
        cmd_render,
        "Render panels with consistent characters; each finished panel becomes a new take.",
    )
    parser.add_argument(
        "projects",
        nargs="+",
        type=Path,
        metavar="PROJECT",
        help="project folder (NAME.storyboard); several are rendered with the model loaded once",
    )
    parser.add_argument("--scenes", metavar="LIST", help="panel numbers, e.g. 1,3-5 (default: all)")
    parser.add_argument(
        "--reroll", action="store_true", help="draw new seeds for panels whose seed is not locked"
    )
    parser.add_argument(
        "--model",
        metavar="SOURCE",
        help="hub id, diffusers folder or .safetensors file ('tiny' = random test model, "
        "'toy' = the bundled toy-world model)",
    )
    parser.add_argument("--steps", type=int, help="denoising steps")
    parser.add_argument("--size", metavar="WxH", help="image size, e.g. 1024x768")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    parser.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    parser.add_argument(
        "--low-vram", choices=["low", "medium", "high"], help="memory preset (default: from GPU)"
    )
    add_json_flag(parser, "print the takes written as JSON")


@dataclass(frozen=True)
class RenderedProject:
    """What one project's render wrote, for the summary and ``--json``."""

    folder: Path
    takes: list[dict[str, Any]]


def cmd_render(args: argparse.Namespace) -> int:
    options = render_options(args, low_vram=args.low_vram, reroll=args.reroll)
    for folder in args.projects:  # every project is checked before minutes of model loading
        with ProjectStore.open(folder) as store:
            request_for(store, args.scenes, options)
    models = ModelKeeper()
    with progress_for(args) as progress:
        results = [
            render_project(folder, args.scenes, options, models, progress)
            for folder in args.projects
        ]
    if args.json:
        print_json(
            {
                "projects": [{"project": str(r.folder), "takes": r.takes} for r in results],
                "model_loads": models.loads,
            }
        )
    else:
        for result in results:
            print(f"Rendered {plural(len(result.takes), 'panel')} into {result.folder}.")
    return EXIT_OK


def render_options(
    args: argparse.Namespace, *, low_vram: str | None = None, reroll: bool = False
) -> RenderOptions:
    """The overrides shared by ``render`` and ``farm render`` (model, steps, size, device)."""
    from storyboard_app.engine.project_render import RenderOptions

    width, height = parse_size(args.size) if args.size else (None, None)
    return RenderOptions(
        model_source=args.model,
        steps=args.steps,
        width=width,
        height=height,
        device=None if args.device == "auto" else args.device,
        dtype=None if args.dtype == "auto" else args.dtype,
        low_vram=low_vram,
        reroll=reroll,
    )


def request_for(store: ProjectStore, panels: str | None, options: RenderOptions) -> RenderRequest:
    """The project's render request for the ``--scenes`` list (all panels when None)."""
    from storyboard_app.engine.project_render import build_render_request

    scene_ids = None
    if panels:
        scenes = store.scenes.list()
        scene_ids = [scenes[n - 1].id for n in parse_panel_numbers(panels, len(scenes))]
    return build_render_request(store, scene_ids, options)


def render_project(
    folder: Path,
    panels: str | None,
    options: RenderOptions,
    models: ModelKeeper,
    progress: Progress,
) -> RenderedProject:
    from storyboard_app.engine.project_render import render_scenes

    with ProjectStore.open(folder) as store:
        request = request_for(store, panels, options)
        renderer = models.renderer_for(request)
        log.info("Rendering %s of %s ...", plural(len(request.panels), "panel"), folder)
        takes = render_scenes(store, renderer, request, lambda e: show_render_event(progress, e))
        numbers = {panel.scene_id: panel.number for panel in request.panels}
        return RenderedProject(folder, [take_report(store, t, numbers) for t in takes])


def take_report(store: ProjectStore, take: TakeRecord, numbers: dict[int, int]) -> dict[str, Any]:
    """A take as ``--json`` shows it; the hash is of the bytes on disk, not of the name."""
    path = store.media.path(take.media)
    return {
        "take_id": take.id,
        "scene_id": take.scene_id,
        "panel": numbers.get(take.scene_id),
        "seed": take.params.seed,
        "width": take.params.width,
        "height": take.params.height,
        "model": take.params.model_source,
        "media": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


class ModelKeeper:
    """The loaded model, kept for the next project that asks for the same one.

    A different model (or device, precision, memory preset) drops the old one
    before loading, so two models never sit in memory at once; a different
    scheduler is switched in place.
    """

    def __init__(self) -> None:
        self.key: tuple[str | None, ...] | None = None
        self.renderer: StoryRenderer | None = None
        self.loads: list[dict[str, Any]] = []

    def renderer_for(self, request: RenderRequest) -> StoryRenderer:
        from storyboard_app.engine.loading import set_scheduler
        from storyboard_app.engine.project_render import load_pipeline_for
        from storyboard_app.engine.story_renderer import StoryRenderer

        key = (request.model_source, request.device, request.dtype, request.low_vram)
        if self.renderer is None or key != self.key:
            self.renderer = None
            log.info("Loading %s ...", request.model_source)
            started = time.perf_counter()
            self.renderer = StoryRenderer(load_pipeline_for(request))
            seconds = time.perf_counter() - started
            self.loads.append({"model": request.model_source, "seconds": round(seconds, 3)})
            log.debug("model %s loaded in %.1f s", request.model_source, seconds)
            self.key = key
        elif self.renderer.loaded.scheduler != request.scheduler:
            loaded = set_scheduler(self.renderer.loaded, request.scheduler)
            self.renderer = StoryRenderer(loaded)
        return self.renderer


def show_render_event(progress: Progress, event: object) -> None:
    """Steps of each pass as progress; a ready identity cache as one line of its own."""
    from storyboard_app.engine.render_request import IdentityReady, RenderProgress

    if isinstance(event, RenderProgress):
        if event.stage == "identity":
            what = "identity of"
        else:  # the label lists the window's panel numbers: "3" or "1, 2, 3"
            what = "panel" if event.label.isdigit() else "panels"
        stage = f"[{event.pass_index}/{event.pass_count}] {what} {event.label:<12.12}"
        progress.update(stage, event.step, event.steps, "steps")
    elif isinstance(event, IdentityReady):
        how = "built" if event.built else "loaded from disk"
        log.info("%s: identity cache %s (%.1f MiB)", event.character, how, event.nbytes / 2**20)


def parse_size(text: str) -> tuple[int, int]:
    width, separator, height = text.lower().partition("x")
    if not separator or not width.isdigit() or not height.isdigit():
        raise ValidationError(
            f"{text!r} is not a size.", "Write the size as WIDTHxHEIGHT, e.g. 1024x768."
        )
    return int(width), int(height)


def parse_panel_numbers(text: str, count: int) -> list[int]:
    """``1,3-5`` -> [1, 3, 4, 5], checked against the number of panels."""
    numbers: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValidationError(f"{part!r} is not a panel number or range.", "Write e.g. 1,3-5.")
        start, end = int(first), int(last) if dash else int(first)
        if not 1 <= start <= end <= count:
            raise ValidationError(outside_the_story(part), f"Panels are numbered 1 to {count}.")
        numbers.extend(range(start, end + 1))
    if not numbers:
        raise ValidationError("No panels were given.", "Write e.g. --scenes 1,3-5.")
    return sorted(set(numbers))


def outside_the_story(panels: str) -> str:
    """``Panel 9 is outside the story.`` or ``Panels 2-9 are outside the story.``"""
    if panels.isdigit():
        return f"Panel {panels} is outside the story."
    return f"Panels {panels} are outside the story."
