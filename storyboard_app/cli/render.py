"""``storyboard render``: panels with consistent characters, from the command line.

The engine (torch, diffusers) is imported only when a render runs, so the
other commands start quickly.
"""

from __future__ import annotations

import argparse
import os
import sys

from storyboard_app.cli.common import EXIT_OK, Commands, add_command, add_project_argument
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore


def register_render(commands: Commands) -> None:
    parser = add_command(
        commands,
        "render",
        cmd_render,
        "Render panels with consistent characters; each finished panel becomes a new take.",
    )
    add_project_argument(parser)
    parser.add_argument("--scenes", metavar="LIST", help="panel numbers, e.g. 1,3-5 (default: all)")
    parser.add_argument(
        "--reroll", action="store_true", help="draw new seeds for panels whose seed is not locked"
    )
    parser.add_argument(
        "--model",
        metavar="SOURCE",
        help="hub id, diffusers folder or .safetensors file ('tiny' = random test model)",
    )
    parser.add_argument("--steps", type=int, help="denoising steps")
    parser.add_argument("--size", metavar="WxH", help="image size, e.g. 1024x768")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    parser.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    parser.add_argument(
        "--low-vram", choices=["low", "medium", "high"], help="memory preset (default: from GPU)"
    )


def cmd_render(args: argparse.Namespace) -> int:
    quiet_libraries()
    from storyboard_app.engine.project_render import (
        RenderOptions,
        build_render_request,
        load_pipeline_for,
        render_scenes,
    )
    from storyboard_app.engine.story_renderer import StoryRenderer

    width, height = parse_size(args.size) if args.size else (None, None)
    options = RenderOptions(
        model_source=args.model,
        steps=args.steps,
        width=width,
        height=height,
        device=None if args.device == "auto" else args.device,
        dtype=None if args.dtype == "auto" else args.dtype,
        low_vram=args.low_vram,
        reroll=args.reroll,
    )
    with ProjectStore.open(args.project) as store:
        scenes = store.scenes.list()
        scene_ids = None
        if args.scenes:
            numbers = parse_panel_numbers(args.scenes, len(scenes))
            scene_ids = [scenes[n - 1].id for n in numbers]
        request = build_render_request(store, scene_ids, options)
        print(f"Loading {request.model_source} ...", file=sys.stderr)
        renderer = StoryRenderer(load_pipeline_for(request))
        progress = ProgressLine()
        takes = render_scenes(store, renderer, request, progress.show)
        progress.done()
    print(f"Rendered {len(takes)} panel(s) into {args.project}.")
    return EXIT_OK


class ProgressLine:
    """A one-line progress display on stderr, rewritten in place."""

    def show(self, event: object) -> None:
        from storyboard_app.engine.render_request import IdentityReady, RenderProgress

        if isinstance(event, RenderProgress):
            what = "identity of" if event.stage == "identity" else "panel(s)"
            filled = round(20 * event.step / event.steps)
            sys.stderr.write(
                f"\r[{event.pass_index}/{event.pass_count}] {what} {event.label:<12.12} "
                f"[{'#' * filled}{'.' * (20 - filled)}] step {event.step}/{event.steps}"
            )
            sys.stderr.flush()
        elif isinstance(event, IdentityReady):
            how = "built" if event.built else "loaded from disk"
            sys.stderr.write(
                f"\r{event.character}: identity cache {how} ({event.nbytes / 2**20:.1f} MiB)"
                + " " * 30
                + "\n"
            )

    def done(self) -> None:
        sys.stderr.write("\n")


def quiet_libraries() -> None:
    """Keep library chatter (progress bars, prompt truncation notes) out of the CLI's output.

    Set through the environment because some of it is printed while the libraries import.
    """
    for variable in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ.setdefault(variable, "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import diffusers

    diffusers.utils.logging.disable_progress_bar()


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
            raise ValidationError(
                f"Panels {part} are outside the story.", f"Panels are numbered 1 to {count}."
            )
        numbers.extend(range(start, end + 1))
    if not numbers:
        raise ValidationError("No panels were given.", "Write e.g. --scenes 1,3-5.")
    return sorted(set(numbers))
