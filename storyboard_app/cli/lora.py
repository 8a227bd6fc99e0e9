"""``storyboard lora``: the LoRAs a project renders with (add, list, set, remove)."""

from __future__ import annotations

import argparse
from pathlib import Path

from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    add_project_argument,
    print_json,
    print_table,
)
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore

LORA_HELP = "Project-wide or per-character LoRAs (.safetensors) with scales and trigger words."


def register_lora(commands: Commands) -> None:
    parser = add_command(
        commands, "lora", lambda args: parser.error("choose a lora command"), LORA_HELP
    )
    actions = parser.add_subparsers(title="lora commands", metavar="ACTION", required=True)
    add = add_command(actions, "add", cmd_lora_add, "Add a LoRA file to a project.")
    add_project_argument(add)
    add.add_argument("file", type=Path, help="the LoRA, a .safetensors file (kept where it is)")
    add.add_argument("--scale", default="1.0", metavar="S", help="strength (default 1)")
    add.add_argument("--trigger", default="", metavar="WORD", help="added to its prompts")
    add.add_argument("--character", metavar="NAME", help="only for this character's panels")
    add.add_argument("--name", help="what to call it (default: the file name)")
    listing = add_command(actions, "list", cmd_lora_list, "List a project's LoRAs.")
    add_project_argument(listing)
    add_json_flag(listing)
    change = add_command(actions, "set", cmd_lora_set, "Change a LoRA's scale or trigger word.")
    add_project_argument(change)
    change.add_argument("name", help="the LoRA's name (see lora list)")
    change.add_argument("--scale", metavar="S", help="new strength (1 is the LoRA as trained)")
    change.add_argument("--trigger", metavar="WORD", help='new trigger word ("" for none)')
    remove = add_command(actions, "remove", cmd_lora_remove, "Remove a LoRA from a project.")
    add_project_argument(remove)
    remove.add_argument("name", help="the LoRA's name (see lora list)")


def cmd_lora_add(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        lora = store.loras.add(
            args.file,
            scale=args.scale,
            trigger=args.trigger,
            character=args.character,
            name=args.name,
        )
    where = f"for {lora.character}" if lora.character else "for every panel"
    print(f"Added LoRA {lora.name} {where} at scale {lora.scale:g}.")
    return EXIT_OK


def cmd_lora_list(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        loras = store.loras.list()
    if args.json:
        print_json(
            [
                {
                    "name": lora.name,
                    "path": str(lora.path),
                    "sha256": lora.digest,
                    "scale": lora.scale,
                    "trigger": lora.trigger,
                    "character": lora.character,
                }
                for lora in loras
            ]
        )
        return EXIT_OK
    if not loras:
        print("No LoRAs. Add one with: storyboard lora add PROJECT FILE")
        return EXIT_OK
    rows = [
        (lora.name, f"{lora.scale:g}", lora.trigger, lora.character or "(all)", lora.path)
        for lora in loras
    ]
    print_table(("name", "scale", "trigger", "character", "file"), rows)
    return EXIT_OK


def cmd_lora_set(args: argparse.Namespace) -> int:
    if args.scale is None and args.trigger is None:
        raise ValidationError("Nothing to change.", "Give --scale S, --trigger WORD or both.")
    with ProjectStore.open(args.project) as store:
        lora = store.loras.update(args.name, scale=args.scale, trigger=args.trigger)
    trigger = f', trigger "{lora.trigger}"' if lora.trigger else ", no trigger word"
    print(f"LoRA {lora.name} now at scale {lora.scale:g}{trigger}.")
    return EXIT_OK


def cmd_lora_remove(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        store.loras.remove(args.name)
    print(f"Removed LoRA {args.name}.")
    return EXIT_OK
