"""``storyboard cache``: list or clear a project's identity caches.

Caches are disposable (the next render rebuilds what it needs), but they are
large: this shows what each one is for and how much disk it takes, and frees
the space. The reference pictures' IP-Adapter embeddings kept beside them are
listed and cleared with them. It reads file headers only and never imports torch.
"""

from __future__ import annotations

import argparse
import dataclasses

from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    add_project_argument,
    print_json,
    print_table,
)
from storyboard_app.engine.cache_store import (
    IDENTITY_CACHE_DIR,
    CacheInfo,
    clear_caches,
    list_all,
)
from storyboard_app.project.files import project_path
from storyboard_app.project.grammar import plural
from storyboard_app.project.store import ProjectStore

ALL_CHARACTERS = "\0all"


def register_cache(commands: Commands) -> None:
    parser = add_command(
        commands,
        "cache",
        cmd_cache,
        "List a project's identity caches (character, settings, size, last use), or clear them.",
    )
    add_project_argument(parser)
    parser.add_argument(
        "--clear",
        nargs="?",
        const=ALL_CHARACTERS,
        metavar="CHARACTER",
        help="delete the caches (of CHARACTER only, when given); renders rebuild them",
    )
    add_json_flag(parser)


def cmd_cache(args: argparse.Namespace) -> int:
    with ProjectStore.open(args.project) as store:
        folder = project_path(store.folder, IDENTITY_CACHE_DIR)
    if args.clear is None:
        show(list_all(folder), args.json)
        return EXIT_OK
    character = None if args.clear == ALL_CHARACTERS else args.clear
    removed = clear_caches(folder, character)
    left = [c for c in list_all(folder) if character is None or c.character == character]
    if args.json:
        print_json({"removed": [as_json(c) for c in removed], "left": [as_json(c) for c in left]})
        return EXIT_OK
    whose = f" of {character}" if character is not None else ""
    print(f"Removed {removed_text(removed)}{whose}, {size_text(removed)}.")
    if left:
        print(f"{len(left)} could not be removed (in use by a render?); try again after it.")
    return EXIT_OK


def show(caches: list[CacheInfo], as_json_output: bool) -> None:
    if as_json_output:
        print_json([as_json(c) for c in caches])
        return
    rows = [
        (
            c.character or "?",
            c.summary or c.state,
            size_text([c]),
            c.last_used.astimezone().strftime("%Y-%m-%d %H:%M"),
            c.state,
        )
        for c in caches
    ]
    print_table(["character", "settings", "size", "last used", "state"], rows, max_width=72)
    if caches:
        print(f"{plural(len(caches), 'cache')}, {size_text(caches)} in all.")


def removed_text(removed: list[CacheInfo]) -> str:
    """``3 identity caches``, followed by ``and 2 IP-Adapter embeddings`` when some went."""
    embeddings = sum(c.kind == "ip_adapter" for c in removed)
    text = plural(len(removed) - embeddings, "identity cache")
    if embeddings:
        text += f" and {plural(embeddings, 'IP-Adapter embedding')}"
    return text


def local_time(cache: CacheInfo) -> str:
    return cache.last_used.astimezone().strftime("%Y-%m-%d %H:%M")


def as_json(cache: CacheInfo) -> dict[str, object]:
    record = dataclasses.asdict(cache)
    record["path"] = str(cache.path)
    record["last_used"] = cache.last_used.isoformat()
    return record


def size_text(caches: list[CacheInfo]) -> str:
    total = sum(c.size for c in caches)
    if total >= 10**8:
        return f"{total / 10**9:.2f} GB"
    return f"{total / 10**6:.1f} MB" if total >= 10**6 else f"{total / 10**3:.0f} kB"
