"""``storyboard transition`` and ``storyboard train-motion``: the transition commands.

``transition`` makes the frames between two neighbouring panels (crossfade,
optical-flow morph, or motion generated with AnimateDiff) and stores them in
the project; ``train-motion`` (in ``train_motion``) trains the motion
predictor the generated kind uses. The engine is imported only when a
command runs, so the other commands start quickly.
"""

from __future__ import annotations

import argparse
from typing import Any

from storyboard_app.cli import train_motion
from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    add_project_argument,
    print_json,
)
from storyboard_app.cli.progress import progress_for
from storyboard_app.cli.render import outside_the_story, parse_size
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.grammar import article, with_article
from storyboard_app.project.records import SceneRecord, TransitionRecord
from storyboard_app.project.store import ProjectStore

KINDS = ("morph", "crossfade", "motion", "cut")
# Options that only the generated kind reads, with their argparse destinations.
MOTION_OPTIONS = {
    "--model": "model",
    "--motion-adapter": "motion_adapter",
    "--sparse-ctrl": "sparse_ctrl",
    "--ip-adapter": "ip_adapter",
    "--image-encoder": "image_encoder",
    "--predictor": "predictor",
    "--seed": "seed",
    "--steps": "steps",
    "--guidance": "guidance",
}


def register_transition(commands: Commands) -> None:
    """Both transition commands: ``transition`` and ``train-motion``."""
    _register_make_transition(commands)
    train_motion.register_train_motion(commands)


def _register_make_transition(commands: Commands) -> None:
    parser = add_command(
        commands,
        "transition",
        cmd_transition,
        "Make the transition between two neighbouring panels: an optical-flow morph (default), "
        "a crossfade, motion generated with a video model, or a plain cut.",
    )
    add_project_argument(parser)
    parser.add_argument(
        "--between",
        nargs=2,
        type=int,
        required=True,
        metavar=("A", "B"),
        help="two neighbouring panel numbers, e.g. --between 3 4",
    )
    parser.add_argument("--kind", choices=KINDS, default="morph", help="default: morph")
    parser.add_argument(
        "--frames", type=int, help="frames to make (default: duration x fps; motion: 16)"
    )
    parser.add_argument("--duration", type=float, metavar="S", help="length in seconds")
    parser.add_argument("--size", metavar="WxH", help="frame size (default: the first panel's)")
    motion = parser.add_argument_group("generated motion (--kind motion)")
    motion.add_argument(
        "--model",
        metavar="SOURCE",
        help="base model: hub id, diffusers folder or .safetensors (default: the project's "
        "panel model; an SDXL one gets the SDXL motion adapter; 'tiny' / 'tiny-sdxl' = random "
        "test models for every part)",
    )
    for flag, what in (
        ("--motion-adapter", "AnimateDiff motion adapter"),
        ("--sparse-ctrl", "SparseCtrl RGB model"),
        ("--ip-adapter", "IP-Adapter .safetensors file"),
        ("--image-encoder", "CLIP image encoder of the IP-Adapter"),
        ("--predictor", "motion predictor weights from train-motion (default: untrained)"),
    ):
        motion.add_argument(flag, metavar="SOURCE", help=f"{what}: folder, file or org/repo/path")
    motion.add_argument("--seed", type=int, help="seed (default: the first panel's)")
    motion.add_argument("--steps", type=int, help="denoising steps (default 25)")
    motion.add_argument("--guidance", type=float, help="guidance scale (default 7.5)")
    motion.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    motion.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    add_json_flag(parser, "print the transition written as JSON")


def cmd_transition(args: argparse.Namespace) -> int:
    from storyboard_app.engine.transitions.job import TransitionOptions, generate_transition

    check_motion_options(args)
    options = TransitionOptions(
        frames=args.frames,
        duration=args.duration,
        size=parse_size(args.size) if args.size else None,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        motion_parts=motion_parts(args) if args.kind == "motion" else (),
        device=None if args.device == "auto" else args.device,
        dtype=None if args.dtype == "auto" else args.dtype,
    )
    with progress_for(args) as progress, ProjectStore.open(args.project) as store:
        first, second = neighbour_panels(store, *args.between)
        record = generate_transition(
            store,
            first.id,
            second.id,
            args.kind,
            options=options,
            on_progress=lambda event: progress.update(event.stage, event.step, event.steps),
        )
        paths = [str(store.media.path(name)) for name in record.media]
    if args.json:
        print_json(transition_report(record, first.number, second.number, paths))
    else:
        print(transition_summary(record, first.number, second.number))
    return EXIT_OK


def transition_summary(record: TransitionRecord, first: int, second: int) -> str:
    """``Made an 8-frame motion between panels 1 and 2 (0.5 s).``"""
    if record.kind == "cut":
        return f"Panels {first} and {second} now cut straight from one to the other."
    made = with_article(f"{record.frame_count}-frame {record.kind}")
    return f"Made {made} between panels {first} and {second} ({record.duration:g} s)."


def transition_report(
    record: TransitionRecord, first: int, second: int, paths: list[str]
) -> dict[str, Any]:
    return {
        "transition_id": record.id,
        "kind": record.kind,
        "between": [first, second],
        "from_scene_id": record.from_scene_id,
        "to_scene_id": record.to_scene_id,
        "frames": record.frame_count,
        "duration": record.duration,
        "status": record.status,
        "paths": paths,
    }


def neighbour_panels(
    store: ProjectStore, first: int, second: int
) -> tuple[SceneRecord, SceneRecord]:
    """The scenes with panel numbers ``first`` and ``second``, which must be neighbours."""
    count = len(store.scenes.list())
    for number in (first, second):
        if not 1 <= number <= count:
            raise ValidationError(
                outside_the_story(str(number)), f"Panels are numbered 1 to {count}."
            )
    if second != first + 1:
        raise ValidationError(
            f"Panels {first} and {second} are not neighbours.",
            "A transition joins a panel to the next one: give two consecutive numbers in "
            "order, e.g. --between 3 4.",
        )
    return store.scenes.at(first), store.scenes.at(second)


def check_motion_options(args: argparse.Namespace) -> None:
    """Options of the generated kind given with another kind are a mistake worth naming."""
    if args.kind == "motion":
        return
    given = [flag for flag, name in MOTION_OPTIONS.items() if getattr(args, name) is not None]
    if given:
        raise ValidationError(
            f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} to generated "
            "motion, "
            f"not to {article(args.kind)} {args.kind}.",
            "Add --kind motion, or leave those options out.",
        )


def motion_parts(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The motion parts given on the command line; the others match the project's model."""
    return tuple(
        (field, getattr(args, dest))
        for field, dest in (
            ("base", "model"),
            ("motion_adapter", "motion_adapter"),
            ("sparse_ctrl", "sparse_ctrl"),
            ("ip_adapter", "ip_adapter"),
            ("image_encoder", "image_encoder"),
            ("predictor", "predictor"),
        )
        if getattr(args, dest) is not None
    )
