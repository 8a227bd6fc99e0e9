"""Everyday edits from the command line: characters, panels, takes and camera moves.

Each command is one committed change through the project repositories, the same
ones the app's undo commands use, so a refused edit (an unknown panel, a bad
number) leaves the project exactly as it was. Numbers are parsed here rather
than by argparse so that every bad value gets the CLI's usual one-line message
and exit code 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    add_project_argument,
    print_json,
    print_table,
    shorten,
)
from storyboard_app.project.camera import EASINGS, MAX_ZOOM, CameraMove, Framing
from storyboard_app.project.errors import CharacterInUseError, ValidationError
from storyboard_app.project.ip_adapters import kind_names
from storyboard_app.project.records import TakeRecord
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.tags import find_tags


def parse_int(text: str, what: str, hint: str) -> int:
    """An integer typed by the user, or a ValidationError naming ``what``.

    Digits are capped so that a pasted wall of digits gets this message, not
    Python's limit on converting huge numbers.
    """
    if not re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", text):
        raise ValidationError(f"{shorten(text, 40)!r} is not a valid {what}.", hint)
    return int(text)


def panel_number(text: str) -> int:
    number = parse_int(text, "panel number", "Give a panel number: 1 is the first panel.")
    if number < 1:
        raise ValidationError(
            f"Panel {number} is outside the story.", "Panels are numbered from 1."
        )
    return number


def add_panel_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("panel", help="panel number (1 = first)")


def panels_text(numbers: Sequence[int]) -> str:
    """``panel 2`` / ``panels 1, 3 and 4``: how the messages name panels."""
    if len(numbers) == 1:
        return f"panel {numbers[0]}"
    listed = ", ".join(str(n) for n in numbers[:-1])
    return f"panels {listed} and {numbers[-1]}"


def register_edit_character(commands: Commands) -> None:
    parser = add_command(
        commands,
        "edit-character",
        cmd_edit_character,
        "Change a character; renaming it also renames its [Name] tags in every prompt.",
    )
    add_project_argument(parser)
    parser.add_argument("name", help="the character's current name")
    parser.add_argument("--name", dest="new_name", metavar="NEW", help="new name")
    parser.add_argument("--description", help="identity prompt: face, hair, clothes")
    parser.add_argument("--negative", help="negative prompt for this character")
    parser.add_argument("--seed", help="identity seed")
    parser.add_argument("--color", help="colour tag as #rrggbb")
    reference = parser.add_mutually_exclusive_group()
    reference.add_argument("--reference", type=Path, metavar="IMAGE", help="new reference image")
    reference.add_argument("--no-reference", action="store_true", help="remove the reference image")
    parser.add_argument(
        "--reference-strength",
        metavar="S",
        help="how much the reference image steers the identity, 0 to 1 (default 1)",
    )
    adapter = parser.add_mutually_exclusive_group()
    adapter.add_argument(
        "--ip-adapter",
        metavar="KIND_OR_FILE",
        help=f"IP-Adapter that reads the reference image: {kind_names()}, or a .safetensors file",
    )
    adapter.add_argument("--no-ip-adapter", action="store_true", help="stop using an IP-Adapter")
    parser.add_argument(
        "--ip-adapter-scale",
        metavar="S",
        help="how strongly the IP-Adapter steers, 0 to 2 (default 0.6)",
    )


def character_changes(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "name": args.new_name,
        "description": args.description,
        "negative_prompt": args.negative,
        "color": args.color,
        "reference_image": args.reference,
        "reference_strength": args.reference_strength,
        "ip_adapter": args.ip_adapter,
        "ip_adapter_scale": args.ip_adapter_scale,
    }
    changes: dict[str, Any] = {key: value for key, value in fields.items() if value is not None}
    if args.seed is not None:
        changes["seed"] = parse_int(args.seed, "seed", "A seed is a whole number, e.g. 1234.")
    if args.no_reference:
        changes["reference_image"] = None
    if args.no_ip_adapter:
        changes["ip_adapter"] = ""
    if not changes:
        raise ValidationError(
            "Nothing to change.",
            "Give at least one option, e.g. --description, --name or --reference.",
        )
    return changes


def cmd_edit_character(args: argparse.Namespace) -> int:
    changes = character_changes(args)
    with ProjectStore.open(args.project) as store:
        before = store.characters.get(args.name)
        after = store.characters.update(before.id, **changes)
        tagged = [s.number for s in store.scenes.list() if after.name in find_tags(s.prompt)]
    if after.name != before.name and tagged:
        print(
            f"Renamed {before.name} to {after.name}; "
            f"the prompts of {panels_text(tagged)} now say [{after.name}]."
        )
    elif after.name != before.name:
        print(f"Renamed {before.name} to {after.name}.")
    else:
        print(f"Updated character {after.name} ({', '.join(sorted(changes))}).")
    if after.ip_adapter and after.reference_media is None:
        print(
            f"{after.name} has no reference image yet: the IP-Adapter reads one once it is set "
            "(--reference IMAGE)."
        )
    return EXIT_OK


def register_delete_character(commands: Commands) -> None:
    parser = add_command(
        commands,
        "delete-character",
        cmd_delete_character,
        "Delete a character; refused while panels use it, unless --force.",
    )
    add_project_argument(parser)
    parser.add_argument("name", help="the character to delete")
    parser.add_argument(
        "--force",
        action="store_true",
        help="delete it even if panels use it: its [Name] tags become the plain name",
    )


def cmd_delete_character(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        try:
            untagged = store.characters.delete(
                args.name, untag_panels=args.force, if_unused=not args.force
            )
        except CharacterInUseError as used:
            raise ValidationError(
                f"{used.name} is still used by {panels_text(used.panels)}.",
                f"Add --force to delete it anyway: the [{used.name}] tags in those "
                f"prompts become the plain word {used.name!r}.",
            ) from None
    message = f"Deleted character {args.name.strip()}."
    if untagged:
        message += f" Removed its tag from {panels_text(untagged)}."
    print(message)
    return EXIT_OK


def register_delete_scene(commands: Commands) -> None:
    parser = add_command(
        commands,
        "delete-scene",
        cmd_delete_scene,
        "Delete a panel with its takes; the panels after it move up.",
    )
    add_project_argument(parser)
    add_panel_argument(parser)


def cmd_delete_scene(args: argparse.Namespace) -> int:
    number = panel_number(args.panel)
    with ProjectStore.open(args.project) as store:
        scene = store.scenes.at(number)
        joined = [
            t for t in store.transitions.list() if scene.id in (t.from_scene_id, t.to_scene_id)
        ]
        store.scenes.delete(scene.id)
        remaining = len(store.scenes.list())
    went = [counted(scene.take_count, "take"), counted(len(joined), "transition")]
    went = [part for part in went if part]
    print(
        f"Deleted panel {number}"
        + (f" and its {' and '.join(went)}" if went else "")
        + f": {scene.prompt} ({counted(remaining, 'panel') or 'no panels'} left)."
    )
    return EXIT_OK


def counted(count: int, noun: str) -> str:
    """``1 take`` / ``3 takes``; empty for none."""
    return f"{count} {noun}{'s' if count != 1 else ''}" if count else ""


def register_takes(commands: Commands) -> None:
    parser = add_command(
        commands, "takes", cmd_takes, "List a panel's takes with their seeds and image hashes."
    )
    add_project_argument(parser)
    add_panel_argument(parser)
    add_json_flag(parser)


def cmd_takes(args: argparse.Namespace) -> int:
    number = panel_number(args.panel)
    with ProjectStore.open(args.project) as store:
        scene = store.scenes.at(number)
        rows = [
            take_summary(store, take, take.id == scene.active_take_id)
            for take in store.takes.list(scene.id)
        ]
    if args.json:
        print_json(rows)
        return EXIT_OK
    print_table(
        ["take", "id", "active", "seed", "size", "steps", "source", "created", "sha256"],
        [take_row(row) for row in rows],
        max_width=64,
    )
    return EXIT_OK


def take_summary(store: ProjectStore, take: TakeRecord, active: bool) -> dict[str, Any]:
    """One take as scripts see it; the hash is of the image file as it is on disk now."""
    try:
        data = store.media.path(take.media).read_bytes()
    except OSError:
        sha256, media_status = None, "missing"
    else:
        sha256 = hashlib.sha256(data).hexdigest()
        media_status = "ok" if take.media.startswith(sha256) else "changed"
    return {
        "id": take.id,
        "number": take.number,
        "active": active,
        "seed": take.params.seed,
        "created_at": take.created_at.isoformat(),
        "media": take.media,
        "sha256": sha256,
        "media_status": media_status,
        "params": dataclasses.asdict(take.params),
    }


def take_row(row: dict[str, Any]) -> list[Any]:
    params = row["params"]
    digest = row["sha256"] if row["media_status"] == "ok" else f"({row['media_status']})"
    return [
        f"Take {row['number']}",
        row["id"],
        "*" if row["active"] else "",
        row["seed"],
        f"{params['width']}x{params['height']}",
        params["steps"],
        params["source"],
        row["created_at"][:19],
        digest,
    ]


def register_use_take(commands: Commands) -> None:
    parser = add_command(
        commands, "use-take", cmd_use_take, "Make one of a panel's takes the one it shows."
    )
    add_project_argument(parser)
    add_panel_argument(parser)
    parser.add_argument("take", help="take id, as listed by 'storyboard takes'")


def cmd_use_take(args: argparse.Namespace) -> int:
    number = panel_number(args.panel)
    take_id = parse_int(
        args.take, "take id", "Run 'storyboard takes PROJECT PANEL' to see the ids."
    )
    with ProjectStore.open(args.project) as store:
        scene = store.scenes.at(number)
        # Chosen by hand: Re-render Every Panel in the app keeps it unless told otherwise.
        store.takes.set_active(scene.id, take_id, picked=True)
        label = store.takes.get(take_id).label
    print(f"Panel {number} now shows {label} (take id {take_id}).")
    return EXIT_OK


def register_camera(commands: Commands) -> None:
    parser = add_command(
        commands,
        "camera",
        cmd_camera,
        "Set a panel's camera move: an eased pan and zoom from one framing to another.",
    )
    add_project_argument(parser)
    add_panel_argument(parser)
    framing_help = "x,y,zoom: centre from 0 to 1 (0.5 = middle), zoom from 1 (whole panel) to "
    parser.add_argument(
        "--from", dest="start", metavar="X,Y,ZOOM", help=f"{framing_help}{MAX_ZOOM:g}"
    )
    parser.add_argument("--to", dest="end", metavar="X,Y,ZOOM", help="where the move ends")
    parser.add_argument(
        "--ease", default="ease_in_out", help="easing: " + ", ".join(EASINGS) + " (default)"
    )
    parser.add_argument("--clear", action="store_true", help="remove the panel's camera move")


def parse_framing(text: str, option: str) -> Framing:
    """``0.5,0.4,1.5`` as a Framing, refusing anything that is not three finite numbers."""
    hint = f"Write {option} X,Y,ZOOM, e.g. {option} 0.5,0.5,1 (x and y from 0 to 1, zoom >= 1)."
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not three numbers.", hint) from None
    if len(values) != 3:
        raise ValidationError(
            f"{option} {text!r} has {counted(len(values), 'number')}, not three (x, y and zoom).",
            hint,
        )
    if not all(math.isfinite(v) for v in values):
        raise ValidationError(f"{option} {text!r} is not made of finite numbers.", hint)
    try:
        return Framing(center_x=values[0], center_y=values[1], zoom=values[2])
    except ValidationError as error:
        raise ValidationError(f"{option}: {error.message}", error.hint) from None


def camera_move(args: argparse.Namespace) -> CameraMove | None:
    if args.clear:
        if args.start is not None or args.end is not None:
            raise ValidationError(
                "--clear removes the camera move; it cannot be given with --from or --to.",
                "Use either --clear, or --from and --to.",
            )
        return None
    if args.start is None or args.end is None:
        raise ValidationError(
            "A camera move needs both --from and --to.",
            "For example: --from 0.5,0.5,1 --to 0.4,0.4,2, or --clear to remove it.",
        )
    easing = args.ease.strip().lower().replace("-", "_")
    if easing not in EASINGS:
        raise ValidationError(
            f"{args.ease!r} is not an easing.", "Use one of: " + ", ".join(EASINGS) + "."
        )
    return CameraMove(
        start=parse_framing(args.start, "--from"),
        end=parse_framing(args.end, "--to"),
        easing=easing,
    )


def cmd_camera(args: argparse.Namespace) -> int:
    number = panel_number(args.panel)
    move = camera_move(args)
    with ProjectStore.open(args.project) as store:
        store.scenes.update(store.scenes.at(number).id, camera_move=move)
    if move is None:
        print(f"Panel {number} has no camera move now.")
    else:
        print(
            f"Panel {number}: camera from {framing_text(move.start)} "
            f"to {framing_text(move.end)}, {move.easing}."
        )
    return EXIT_OK


def framing_text(framing: Framing) -> str:
    return f"{framing.center_x:g},{framing.center_y:g},{framing.zoom:g}"
