"""Pieces every ``storyboard`` command shares: registration, exit codes, output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from storyboard_app.logging_setup import Verbosity
from storyboard_app.project.errors import ValidationError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]
Commands = argparse._SubParsersAction


def add_command(
    commands: Commands, name: str, handler: Handler, help_text: str
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    add_verbosity_options(parser, after_command=True)
    return parser


def add_verbosity_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """``--verbose`` / ``--quiet``, before the command or after it.

    After the command they default to "not given" (``SUPPRESS``), so that
    ``storyboard -q render P`` keeps the value the root parser set.
    """
    default: Any = argparse.SUPPRESS if after_command else False
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="also show debug messages"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="show only errors and the result",
    )


def verbosity_of(args: argparse.Namespace) -> Verbosity:
    """``quiet``, ``normal`` or ``verbose``; both flags at once are a usage error."""
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    if verbose and quiet:
        raise ValidationError(
            "--verbose and --quiet contradict each other.", "Give one of them, or neither."
        )
    return "verbose" if verbose else "quiet" if quiet else "normal"


def add_project_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, help="project folder (NAME.storyboard)")


def add_json_flag(
    parser: argparse.ArgumentParser, help_text: str = "print machine-readable JSON"
) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 48) -> None:
    """A plain aligned table; long cells are shortened with an ellipsis."""
    cells = [[shorten(str(cell), max_width) for cell in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
