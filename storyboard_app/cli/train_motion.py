"""``storyboard train-motion``: train the Semantic Motion Predictor on a folder of videos.

Every clip's first and last frames are the keys and the frames between are
the targets, all as CLIP image embeddings from the IP-Adapter's encoder (the
predictor must be trained in the space the video model reads). Progress is
shown on stderr; Ctrl-C saves a checkpoint that ``--resume`` continues.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from storyboard_app.cli.common import EXIT_OK, Commands, add_command
from storyboard_app.cli.progress import Progress, progress_for
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.grammar import plural

# engine.motion.encoder.DEFAULT_ENCODER_SOURCE, repeated so that the CLI starts without
# importing the engine; a test checks that the two agree.
DEFAULT_ENCODER = "h94/IP-Adapter/models/image_encoder"


def register_train_motion(commands: Commands) -> None:
    parser = add_command(
        commands,
        "train-motion",
        cmd_train_motion,
        "Train the motion predictor used by generated transitions on clips from a folder of "
        "videos; writes a .safetensors file for 'storyboard transition --predictor'.",
    )
    parser.add_argument("--videos", type=Path, required=True, metavar="DIR", help="video folder")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="WEIGHTS", help="weights file (.safetensors)"
    )
    parser.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    parser.add_argument("--batch", type=int, default=16, help="clips per step (default 16)")
    parser.add_argument(
        "--frames", type=int, default=16, help="frames per clip, keys included (default 16)"
    )
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4)")
    parser.add_argument(
        "--val-split", type=float, default=0.1, help="share of videos held out (default 0.1)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument(
        "--stride", type=int, default=2, help="use every N-th video frame (default 2)"
    )
    parser.add_argument(
        "--encoder",
        default=DEFAULT_ENCODER,
        metavar="SOURCE",
        help=f"CLIP image encoder (default {DEFAULT_ENCODER}; 'tiny' = random test encoder)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=200, metavar="N")
    parser.add_argument("--width", type=int, default=512, help="predictor width (default 512)")
    parser.add_argument("--layers", type=int, default=4, help="transformer layers (default 4)")
    parser.add_argument("--heads", type=int, default=8, help="attention heads (default 8)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")


def cmd_train_motion(args: argparse.Namespace) -> int:
    from storyboard_app.engine.devices import choose_device
    from storyboard_app.engine.motion.encoder import load_image_encoder
    from storyboard_app.engine.motion.training import TrainingOptions, train_motion_predictor

    check_out_path(args.out)
    options = TrainingOptions(
        videos=args.videos,
        out=args.out,
        steps=args.steps,
        batch=args.batch,
        frames=args.frames,
        lr=args.lr,
        val_split=args.val_split,
        stride=args.stride,
        seed=args.seed,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        width=args.width,
        layers=args.layers,
        heads=args.heads,
    )
    device = choose_device(None if args.device == "auto" else args.device)
    encoder = load_image_encoder(args.encoder, device=device)
    with progress_for(args) as progress:
        result = train_motion_predictor(
            options, encoder, device=device, on_progress=lambda e: show_training(progress, e)
        )
    print(summary(result))
    return EXIT_OK


def check_out_path(out: Path) -> None:
    if out.suffix.lower() != ".safetensors":
        raise ValidationError(
            f"The weights file {out.name} should end in .safetensors.",
            "Give --out a name such as motion.safetensors.",
        )
    if not out.parent.is_dir():
        raise ValidationError(
            f"The folder {out.parent} for the weights does not exist.", "Create it first."
        )


def summary(result: Any) -> str:
    lines = [
        f"Trained {plural(result.steps, 'step')} on {plural(result.train_videos, 'video')} "
        f"({result.val_videos} held out for validation).",
        f"Training loss {result.first_loss:.4f} -> {result.last_loss:.4f}.",
    ]
    if result.initial_val_loss is not None and result.final_val_loss is not None:
        lines.append(
            f"Validation loss {result.initial_val_loss:.4f} (slerp) -> {result.final_val_loss:.4f}."
        )
    lines.append(f"Weights: {result.weights} (checkpoint: {result.checkpoint})")
    return "\n".join(lines)


def show_training(progress: Progress, event: Any) -> None:
    """Encoding as videos done; training as steps, with the newest losses."""
    if event.stage == "encoding":
        progress.update("encoding videos", event.step, event.steps, "videos")
        return
    detail = f"loss {event.loss:.4f}" if event.loss is not None else None
    if detail and event.val_loss is not None:
        detail += f" val {event.val_loss:.4f}"
    progress.update("training", event.step, event.steps, "steps", detail)
