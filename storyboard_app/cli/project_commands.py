"""Commands that create, inspect and edit a project (no engine needed)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
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
)
from storyboard_app.engine.story_llm import LlmEndpoint, story_from_llm
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.files import atomic_write_text
from storyboard_app.project.grammar import plural, with_article
from storyboard_app.project.records import SceneRecord
from storyboard_app.project.scripts.io import load_story_script, read_script_text
from storyboard_app.project.scripts.model import CharacterSpec, StoryScript
from storyboard_app.project.scripts.names import undescribed
from storyboard_app.project.scripts.prose import load_cast, load_prose_story
from storyboard_app.project.scripts.toml_format import dump_story_toml
from storyboard_app.project.settings import AUTO_SIZE, SHOT_TYPES, ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.story import create_project_from_script, export_story, flat_settings
from storyboard_app.project.styles import load_styles

LLM_URL_VARIABLE = "STORYBOARD_LLM_URL"
LLM_MODEL_VARIABLE = "STORYBOARD_LLM_MODEL"


def register_new(commands: Commands) -> None:
    parser = add_command(
        commands, "new", cmd_new, "Create a project, empty or from a story script."
    )
    parser.add_argument(
        "path", type=Path, help="folder to create; '.storyboard' is added if missing"
    )
    parser.add_argument(
        "--from",
        dest="script",
        type=Path,
        metavar="SCRIPT",
        help="story script to import: .toml, .txt in StoryDiffusion's [Name] syntax, "
        "or a .fountain screenplay",
    )
    parser.add_argument(
        "--from-prose",
        dest="prose",
        type=Path,
        metavar="STORY",
        help="a story written as prose (.md or .txt): one panel per sentence, by rules",
    )
    parser.add_argument(
        "--cast", type=Path, metavar="FILE", help="with --from-prose: characters, as a .toml story"
    )
    parser.add_argument("--panels", type=int, metavar="N", help="with --from-prose: about N panels")
    parser.add_argument(
        "--narrator", metavar="NAME", help="with --from-prose: who 'I' is (default: first of cast)"
    )
    parser.add_argument(
        "--llm-url",
        default=os.environ.get(LLM_URL_VARIABLE) or None,
        metavar="URL",
        help="with --from-prose: an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) "
        f"to cut the story; the rules are used if it fails (default: ${LLM_URL_VARIABLE})",
    )
    parser.add_argument(
        "--llm-model",
        default=os.environ.get(LLM_MODEL_VARIABLE, "local"),
        metavar="NAME",
        help=f"the model name the server expects (default: ${LLM_MODEL_VARIABLE} or 'local')",
    )
    parser.add_argument(
        "--llm-timeout", type=float, default=60.0, metavar="S", help="seconds to wait for it"
    )
    parser.add_argument("--name", help="project name (default: the script's title or folder name)")


def story_from_args(args: argparse.Namespace) -> StoryScript | None:
    """The story ``new`` imports: a script, prose cut into panels, or none."""
    if args.script is not None and args.prose is not None:
        raise ValidationError(
            "--from and --from-prose cannot be used together.", "Give one story to start from."
        )
    prose_only = [f"--{o}" for o in ("cast", "panels", "narrator") if getattr(args, o) is not None]
    if args.prose is None and prose_only:
        raise ValidationError(
            f"{', '.join(prose_only)} only work with --from-prose.", "Add --from-prose STORY."
        )
    if args.panels is not None and args.panels < 1:
        raise ValidationError(
            f"--panels {args.panels} is not a panel count.", "Use 1 or more, e.g. --panels 12."
        )
    if args.prose is not None and args.llm_url:
        return story_from_model(args)
    if args.prose is not None:
        return load_prose_story(args.prose, args.cast, args.panels, args.narrator)
    return load_story_script(args.script) if args.script is not None else None


def story_from_model(args: argparse.Namespace) -> StoryScript:
    """The prose cut by the configured model, or by the rules with a note saying why."""
    if not args.llm_timeout > 0:
        raise ValidationError(
            f"--llm-timeout {args.llm_timeout} is not a wait.", "Use seconds above 0, e.g. 60."
        )
    cast = load_cast(args.cast) if args.cast is not None else ()
    endpoint = LlmEndpoint(args.llm_url, args.llm_model, args.llm_timeout)
    text = read_script_text(args.prose)
    result = story_from_llm(text, endpoint, args.prose, cast, args.panels, args.narrator)
    if result.fallback_reason:
        print(f"Note: {result.fallback_reason}.")
    return result.script


def cmd_new(args: argparse.Namespace) -> int:
    script = story_from_args(args)
    if script is not None:
        if args.name:
            script = dataclasses.replace(script, title=args.name)
        store = create_project_from_script(args.path, script)
    else:
        store = ProjectStore.create(args.path, name=args.name)
    with store:
        info = store.info()
    print(
        f"Created {info.path} with {plural(info.character_count, 'character')} "
        f"and {plural(info.scene_count, 'panel')}."
    )
    if script is not None:
        print_undescribed(script.characters)
    return EXIT_OK


def print_undescribed(characters: Sequence[CharacterSpec]) -> None:
    """Characters found in a screenplay or story have their name as a stand-in description."""
    names = undescribed(characters)
    if names:
        print(
            f"Describe {', '.join(names)}: their description is only the name for now "
            "(storyboard edit-character PROJECT NAME --description '...')."
        )


def register_info(commands: Commands) -> None:
    parser = add_command(commands, "info", cmd_info, "Show a project's summary and settings.")
    add_project_argument(parser)
    add_json_flag(parser)


def cmd_info(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        info = store.info()
    if args.json:
        print_json(dataclasses.asdict(info))
        return EXIT_OK
    settings = info.settings
    rows = [
        ("name", info.name),
        ("path", str(info.path)),
        ("schema", info.schema_revision),
        ("characters", str(info.character_count)),
        ("panels", f"{info.scene_count} ({info.rendered_scene_count} rendered)"),
        ("takes", str(info.take_count)),
        ("transitions", f"{info.transition_count} ({info.stale_transition_count} stale)"),
        (
            "duration",
            f"{info.total_duration:g} s ({plural(info.total_frames, 'frame')} at "
            f"{settings.frame_rate} fps)",
        ),
        ("model", settings.model_source or "(none configured)"),
        ("size", describe_size(settings)),
        ("steps / guidance", f"{settings.steps} / {settings.guidance:g}"),
        ("scheduler", settings.scheduler),
        ("base seed", str(settings.base_seed)),
        ("frame rate", f"{settings.frame_rate} fps"),
        (
            "consistency",
            f"rate {settings.consistency.sampling_rate:g}/"
            f"{settings.consistency.sampling_rate_high_res:g}, "
            f"window {settings.consistency.window_size}, "
            f"{settings.consistency.identity_images} identity images, "
            f"blocks {','.join(settings.consistency.blocks)}",
        ),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return EXIT_OK


def register_characters(commands: Commands) -> None:
    parser = add_command(commands, "characters", cmd_characters, "List a project's characters.")
    add_project_argument(parser)
    add_json_flag(parser)


def cmd_characters(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        characters = store.characters.list()
    if args.json:
        print_json([dataclasses.asdict(c) for c in characters])
        return EXIT_OK
    print_table(
        ["#", "name", "seed", "colour", "description"],
        [[c.position + 1, c.name, c.seed, c.color, c.description] for c in characters],
    )
    return EXIT_OK


def register_scenes(commands: Commands) -> None:
    parser = add_command(commands, "scenes", cmd_scenes, "List a project's panels in story order.")
    add_project_argument(parser)
    add_json_flag(parser)


def cmd_scenes(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        scenes = store.scenes.list()
    if args.json:
        print_json([dataclasses.asdict(s) | {"number": s.number} for s in scenes])
        return EXIT_OK
    print_table(
        ["#", "characters", "shot", "dur", "takes", "prompt", "narration", "dialogue"],
        [scene_row(s) for s in scenes],
    )
    return EXIT_OK


def scene_row(scene: SceneRecord) -> list[Any]:
    return [
        scene.number,
        ", ".join(scene.character_names) or "-",
        scene.shot_type or "-",
        f"{scene.duration:g}s",
        scene.take_count,
        scene.prompt,
        scene.caption,
        " / ".join(scene.dialogue.splitlines()),
    ]


def register_add_character(commands: Commands) -> None:
    parser = add_command(commands, "add-character", cmd_add_character, "Add a character.")
    add_project_argument(parser)
    parser.add_argument("name", help="name used as [Name] in panel prompts")
    parser.add_argument("--description", required=True, help="identity prompt: face, hair, clothes")
    parser.add_argument("--negative", default="", help="negative prompt for this character")
    parser.add_argument("--seed", type=int, help="identity seed (default: derived from the name)")
    parser.add_argument("--color", help="colour tag as #rrggbb")
    parser.add_argument("--reference", type=Path, help="optional reference image")


def cmd_add_character(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        character = store.characters.add(
            args.name,
            args.description,
            negative_prompt=args.negative,
            seed=args.seed,
            color=args.color,
            reference_image=args.reference,
        )
    print(f"Added character {character.name} (seed {character.seed}).")
    return EXIT_OK


def add_scene_fields(parser: argparse.ArgumentParser, editing: bool) -> None:
    """Options shared by add-scene and edit-scene; None means 'leave as it is'."""
    parser.add_argument(
        "--characters",
        help="comma-separated character names (tags like [Name] in the prompt also count)",
    )
    parser.add_argument("--negative", help="negative prompt")
    parser.add_argument(
        "--narration", "--caption", dest="caption", help="narration, drawn in a caption box"
    )
    parser.add_argument(
        "--dialogue",
        action="append",
        metavar="LINE",
        help="a line of speech, drawn as a balloon (repeat for more, e.g. --dialogue 'Mara: Run!')",
    )
    parser.add_argument("--notes", help="notes for the team")
    parser.add_argument("--shot", choices=[s for s in SHOT_TYPES if s], help="shot type")
    parser.add_argument("--duration", type=float, help="seconds on the timeline")
    parser.add_argument("--seed", type=int, help="panel seed")
    lock = parser.add_mutually_exclusive_group()
    lock.add_argument("--lock-seed", dest="seed_locked", action="store_true", default=None)
    if editing:
        lock.add_argument("--unlock-seed", dest="seed_locked", action="store_false")


def scene_changes(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "negative_prompt": args.negative,
        "caption": args.caption,
        "notes": args.notes,
        "shot_type": args.shot,
        "duration": args.duration,
        "seed": args.seed,
        "seed_locked": args.seed_locked,
    }
    changes = {key: value for key, value in fields.items() if value is not None}
    if args.dialogue is not None:
        changes["dialogue"] = "\n".join(line.strip() for line in args.dialogue if line.strip())
    if args.characters is not None:
        changes["characters"] = [n for n in args.characters.split(",") if n.strip()]
    return changes


def register_add_scene(commands: Commands) -> None:
    parser = add_command(commands, "add-scene", cmd_add_scene, "Add a panel to the story.")
    add_project_argument(parser)
    parser.add_argument("prompt", help="what the panel shows, e.g. '[Mara] opens the door'")
    parser.add_argument(
        "--at", type=int, metavar="N", help="insert as panel N (default: at the end)"
    )
    add_scene_fields(parser, editing=False)


def cmd_add_scene(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        position = None if args.at is None else args.at - 1
        scene = store.scenes.add(args.prompt, position=position, **scene_changes(args))
    print(f"Added panel {scene.number}: {scene.prompt}")
    return EXIT_OK


def register_edit_scene(commands: Commands) -> None:
    parser = add_command(commands, "edit-scene", cmd_edit_scene, "Change fields of a panel.")
    add_project_argument(parser)
    parser.add_argument("number", type=int, help="panel number (1 = first)")
    parser.add_argument("--prompt", help="new prompt")
    add_scene_fields(parser, editing=True)


def cmd_edit_scene(args: argparse.Namespace) -> int:
    changes = scene_changes(args)
    if args.prompt is not None:
        changes["prompt"] = args.prompt
    if not changes:
        raise ValidationError(
            "Nothing to change.",
            "Give at least one option, e.g. --prompt, --narration or --dialogue.",
        )
    with ProjectStore.open(args.project) as store:
        scene = store.scenes.update(store.scenes.at(args.number).id, **changes)
    print(f"Updated panel {scene.number}: {scene.prompt}")
    return EXIT_OK


def register_move_scene(commands: Commands) -> None:
    parser = add_command(
        commands,
        "move-scene",
        cmd_move_scene,
        "Move a panel; a cut or crossfade joins its new neighbours, a morph or motion whose "
        "panels part becomes stale.",
    )
    add_project_argument(parser)
    parser.add_argument("number", type=int, help="panel number to move")
    parser.add_argument("--to", type=int, required=True, metavar="N", help="its new number")


def cmd_move_scene(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        stale = store.scenes.move(store.scenes.at(args.number).id, args.to - 1)
    message = f"Moved panel {args.number} to {args.to}."
    if stale:
        message += f" {plural(len(stale), 'transition')} marked stale."
    print(message)
    return EXIT_OK


def register_export_script(commands: Commands) -> None:
    parser = add_command(
        commands, "export-script", cmd_export_script, "Write the project as a TOML story script."
    )
    add_project_argument(parser)
    parser.add_argument(
        "-o", "--output", type=Path, help="file to write (default: print to the terminal)"
    )


def cmd_export_script(args: argparse.Namespace) -> int:
    relative_to = args.output.absolute().parent if args.output else Path.cwd()
    with ProjectStore.open(args.project) as store:
        text = dump_story_toml(export_story(store, relative_to=relative_to))
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    if args.output.exists() and args.output.is_dir():
        raise ValidationError(f"{args.output} is a folder.", "Give a file name ending in .toml.")
    if not args.output.parent.is_dir():
        raise ValidationError(
            f"The folder {args.output.parent} does not exist.",
            "Create the folder first, or give a file in an existing folder.",
        )
    try:
        atomic_write_text(args.output.absolute(), text)
    except OSError as error:
        raise ValidationError(
            f"Cannot write {args.output}: {error.strerror or error}.",
            "Check the folder's permissions, or write somewhere else.",
        ) from None
    print(f"Wrote {args.output}.")
    return EXIT_OK


def register_settings(commands: Commands) -> None:
    parser = add_command(
        commands, "settings", cmd_settings, "Show or change a project's render settings."
    )
    add_project_argument(parser)
    parser.add_argument(
        "--set",
        dest="changes",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a setting, e.g. --set model_source=stabilityai/stable-diffusion-xl-base-1.0 "
        "--set steps=25 (repeatable)",
    )
    add_json_flag(parser)


def cmd_settings(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        settings = store.settings()
        if args.changes:
            settings = store.update_settings(**parse_setting_changes(settings, args.changes))
    flat = flat_settings(settings)
    if args.json:
        print_json(flat)
    else:
        width = max(len(key) for key in flat)
        for key, value in flat.items():
            shown = ",".join(value) if isinstance(value, list) else value
            if key in ("width", "height") and value == AUTO_SIZE:
                shown = "auto (the model's native size)"
            print(f"{key:<{width}}  {shown}")
    return EXIT_OK


def register_styles(commands: Commands) -> None:
    parser = add_command(
        commands,
        "styles",
        cmd_styles,
        "List the named styles; choose one with `settings PROJECT --set style=NAME`.",
    )
    add_json_flag(parser)


def cmd_styles(args: argparse.Namespace) -> int:
    styles = load_styles()
    if args.json:
        print_json([dataclasses.asdict(style) for style in styles.values()])
        return EXIT_OK
    width = max(len(name) for name in styles)
    for style in styles.values():
        print(f"{style.name:<{width}}  {style.positive}")
        if style.negative:
            print(f"{'':<{width}}  negative: {style.negative}")
    return EXIT_OK


def parse_setting_changes(settings: ProjectSettings, changes: Sequence[str]) -> dict[str, Any]:
    """``key=value`` strings typed after the current settings' fields."""
    current = flat_settings(settings)
    parsed: dict[str, Any] = {}
    for change in changes:
        key, separator, text = change.partition("=")
        key = key.strip()
        if not separator or key not in current:
            raise ValidationError(
                f"{change!r} is not a setting change.",
                "Write KEY=VALUE with one of: " + ", ".join(current) + ".",
            )
        parsed[key] = typed_value(key, text.strip(), current[key])
    return parsed


def describe_size(settings: ProjectSettings) -> str:
    if settings.width == AUTO_SIZE and settings.height == AUTO_SIZE:
        sdxl, sd15 = settings.render_size("sdxl"), settings.render_size("sd15")
        return (
            f"auto, {settings.aspect_ratio}: SDXL {sdxl[0]}x{sdxl[1]}, SD 1.5 {sd15[0]}x{sd15[1]}"
        )
    if AUTO_SIZE in (settings.width, settings.height):
        return "auto: the model's native size (SDXL 1024, SD 1.5 512)"
    return f"{settings.width}x{settings.height}"


def typed_value(key: str, text: str, example: object) -> object:
    if key in ("width", "height") and text.lower() == "auto":
        return AUTO_SIZE
    try:
        if isinstance(example, bool):
            return text.lower() in {"1", "true", "yes", "on"}
        if isinstance(example, int):
            return int(text)
        if isinstance(example, float):
            return float(text)
    except ValueError as exc:
        raise ValidationError(
            f"{text!r} is not a valid value for {key}.",
            f"{key} takes {with_article(type(example).__name__)}.",
        ) from exc
    if isinstance(example, list):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text
