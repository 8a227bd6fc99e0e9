"""``storyboard eval consistory``: the ConsiStory+ benchmark on a model of your own.

Renders the benchmark's prompt sets as one-character stories through the same
path as ``storyboard render`` and prints (or writes) a Markdown table of CLIP-T,
CLIP-I and DINO per domain and overall, beside the published CLIP-T figures.
The metric models are local transformers folders; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard_app.cli.common import EXIT_OK, Commands, add_command, add_verbosity_options
from storyboard_app.cli.progress import progress_for
from storyboard_app.cli.render import ModelKeeper

if TYPE_CHECKING:
    from storyboard_app.engine.evaluation.consistory import EvalOptions


def register_eval(commands: Commands) -> None:
    parser = add_command(
        commands,
        "eval",
        lambda args: args.parser.print_help() or EXIT_OK,
        "Measure a model on a published consistency benchmark.",
    )
    parser.set_defaults(parser=parser)
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    consistory = benchmarks.add_parser(
        "consistory",
        help="ConsiStory+ prompt sets: CLIP-T, CLIP-I and DINO per domain",
        description=__doc__.splitlines()[0],
    )
    consistory.set_defaults(handler=cmd_consistory)
    add_verbosity_options(consistory, after_command=True)
    consistory.add_argument("--model", required=True, metavar="SOURCE", help="model to render")
    consistory.add_argument(
        "--clip",
        required=True,
        type=Path,
        metavar="PATH",
        help="local transformers CLIP folder (e.g. clip-vit-large-patch14)",
    )
    consistory.add_argument(
        "--dino",
        type=Path,
        metavar="PATH",
        help="local transformers DINOv2 folder (DINO is left out without it)",
    )
    consistory.add_argument(
        "--sets",
        type=int,
        metavar="N",
        help="only the first N sets, taken round-robin over the domains",
    )
    consistory.add_argument("--out", type=Path, metavar="FILE", help="write the report here")
    consistory.add_argument("--steps", type=int, help="denoising steps (default: project's)")
    consistory.add_argument(
        "--size",
        type=int,
        metavar="PX",
        help="square side in pixels (default: the model's native size)",
    )
    consistory.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    consistory.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")


def eval_options(args: argparse.Namespace) -> EvalOptions:
    from storyboard_app.engine.evaluation.consistory import EvalOptions

    return EvalOptions(
        model_source=args.model,
        steps=args.steps,
        size=args.size,
        device=None if args.device == "auto" else args.device,
        dtype=None if args.dtype == "auto" else args.dtype,
    )


def cmd_consistory(args: argparse.Namespace) -> int:
    from storyboard_app.engine.evaluation import consistory
    from storyboard_app.engine.evaluation.metrics import ClipEmbedder, DinoEmbedder

    sets = consistory.choose_sets(consistory.load_sets(), args.sets)
    clip = ClipEmbedder(args.clip)
    dino = DinoEmbedder(args.dino) if args.dino is not None else None
    keeper = ModelKeeper()
    with progress_for(args) as progress:
        report = consistory.evaluate(
            sets,
            eval_options(args),
            keeper.renderer_for,
            clip,
            dino,
            on_set=lambda i, s: progress.update("sets", i, len(sets), detail=s.subject),
        )
        progress.update("sets", len(sets), len(sets))
    text = consistory.markdown(report)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
