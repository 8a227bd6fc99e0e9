"""``storyboard``: headless commands over the same core the app uses.

Each sub-command is a small function taking the parsed arguments; every error
the user can cause is a :class:`StoryboardError`, printed as one message with
its fix and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from storyboard_app import __version__
from storyboard_app.cli import (
    cache,
    edit_commands,
    eval,
    export,
    farm,
    lora,
    models,
    project_commands,
    render,
    selftest,
    transition,
)
from storyboard_app.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    Commands,
    add_verbosity_options,
    verbosity_of,
)
from storyboard_app.logging_setup import configure_logging, remove_logging
from storyboard_app.project.errors import StoryboardError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(verbosity_of(args))
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
        return status
    except StoryboardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``storyboard info P | head -1``): stop quietly.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        quiet_closed_pipe()
        return EXIT_ERROR
    finally:
        remove_logging()


def quiet_closed_pipe() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storyboard",
        description="Storyboard projects from the command line: create, inspect and edit "
        "stories whose characters stay the same from panel to panel.",
        epilog="Run 'storyboard COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"storyboard {__version__}")
    add_verbosity_options(parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


COMMANDS: list[Callable[[Commands], None]] = [
    project_commands.register_new,
    project_commands.register_info,
    project_commands.register_characters,
    project_commands.register_scenes,
    project_commands.register_add_character,
    project_commands.register_add_scene,
    project_commands.register_edit_scene,
    project_commands.register_move_scene,
    project_commands.register_export_script,
    project_commands.register_settings,
    project_commands.register_styles,
    lora.register_lora,
    edit_commands.register_edit_character,
    edit_commands.register_delete_character,
    edit_commands.register_delete_scene,
    edit_commands.register_takes,
    edit_commands.register_use_take,
    edit_commands.register_camera,
    render.register_render,
    export.register_export,
    selftest.register_self_test,
    transition.register_transition,
    cache.register_cache,
    farm.register_farm,
    models.register_models,
    eval.register_eval,
]
