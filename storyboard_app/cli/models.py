"""``storyboard models``: what weights Storyboard can use, which are here, and getting them.

``storyboard models`` lists the catalogue by job with present/missing and
everything else in the Hugging Face cache; ``download NAME`` fetches only
that entry's files into the standard cache (progress on stderr, Ctrl+C
cancels, completed files are kept); ``remove NAME`` deletes its repository
from the cache. Tokens are the hub's business (``huggingface-cli login`` or
HF_TOKEN): nothing here stores one.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import time
from typing import Any

from storyboard_app.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    print_json,
    print_table,
)
from storyboard_app.cli.progress import Progress, progress_for
from storyboard_app.engine.errors import DownloadCancelledError
from storyboard_app.engine.models.catalogue import JOBS, find_entry
from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.engine.models.manager import (
    CachedRepo,
    EntryStatus,
    cached_repos,
    catalogue_status,
    download_in_background,
    remove_entry,
)


def register_models(commands: Commands) -> None:
    parser = add_command(
        commands,
        "models",
        cmd_models,
        "List the models Storyboard can use and which are downloaded; download or remove one.",
    )
    add_json_flag(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    download = actions.add_parser(
        "download", help="download the files of one catalogue entry (resumable)"
    )
    download.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help="catalogue names, e.g. sd15 motion-adapter",
    )
    remove = actions.add_parser("remove", help="delete an entry's repository from the cache")
    remove.add_argument("name", help="catalogue name, e.g. sd15")
    for sub in (download, remove):
        add_json_flag(sub)


def cmd_models(args: argparse.Namespace) -> int:
    if args.action == "download":
        return _download(args)
    if args.action == "remove":
        return _remove(args)
    statuses, repos = catalogue_status(), cached_repos()
    if args.json:
        print_json(
            {
                "cache": str(hub_cache_dir()),
                "catalogue": [status_json(s) for s in statuses],
                "on_disk": [dataclasses.asdict(r) for r in repos],
            }
        )
        return EXIT_OK
    show_catalogue(statuses)
    show_on_disk(repos)
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    entries = [find_entry(name) for name in args.names]  # every name checked before any download
    done = []
    for entry in entries:
        with progress_for(args) as progress:
            try:
                status = download_in_background(entry, _reporter(progress, entry.name))
            except DownloadCancelledError as cancelled:
                progress.end_line()
                print(f"{cancelled.message} {cancelled.hint}")
                leave_if_stalled()
                return EXIT_INTERRUPTED
        done.append(status)
        if not args.json:
            print(f"{entry.name} is ready in {status.folder} ({size_text(status.size_on_disk)}).")
    if args.json:
        print_json([status_json(s) for s in done])
    return EXIT_OK


def leave_if_stalled() -> None:
    """Exit now if a cancelled download left a hub thread blocked on a stalled connection.

    The hub client's download threads (a thread pool) are joined when the
    interpreter exits, daemon or not, so one blocked on a socket that stopped
    answering would hold Ctrl+C for its time-outs and retries (about a
    minute). The partial files are already removed and no project is open,
    so the process ends here.
    """
    main = threading.main_thread()
    if not any(t is not main and t.is_alive() for t in threading.enumerate()):
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _remove(args: argparse.Namespace) -> int:
    entry = find_entry(args.name)
    freed, others = remove_entry(entry)
    if args.json:
        print_json({"removed": entry.name, "freed_bytes": freed, "also_removed": others})
        return EXIT_OK
    if not freed:
        print(f"{entry.name} ({entry.repo_id}) is not in the cache; nothing removed.")
        return EXIT_OK
    also = f" (with {', '.join(others)}, stored in the same repository)" if others else ""
    print(f"Removed {entry.repo_id}{also}, freeing {size_text(freed)}.")
    return EXIT_OK


def _reporter(progress: Progress, name: str) -> Any:
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        detail = speed_and_eta(done, total, time.monotonic() - started)
        progress.update(f"downloading {name}", done // 10**6, max(total // 10**6, 1), "MB", detail)

    return report


def speed_and_eta(done: int, total: int, seconds: float) -> str:
    """``12.5 MB/s, 40 s left`` once there is a rate to tell; empty before."""
    if done <= 0 or seconds <= 0:
        return ""
    rate = done / seconds
    left = max(total - done, 0) / rate
    return f"{rate / 10**6:.1f} MB/s, {left:.0f} s left"


def show_catalogue(statuses: list[EntryStatus]) -> None:
    print(f"Hugging Face cache: {hub_cache_dir()}")
    for job in JOBS:
        rows = [
            (
                s.entry.name,
                "present" if s.present else "missing",
                f"~{s.entry.size_gb:.1f} GB",
                s.entry.licence,
                s.entry.repo_id,
                s.entry.enables,
            )
            for s in statuses
            if s.entry.job == job
        ]
        if not rows:
            continue
        print(f"\n{job.capitalize()}:")
        print_table(("NAME", "STATE", "SIZE", "LICENCE", "REPOSITORY", "ENABLES"), rows, 60)
    print("\nDownload one with `storyboard models download NAME`.")


def show_on_disk(repos: list[CachedRepo]) -> None:
    print("\nIn the cache:")
    rows = [
        (r.repo_id, size_text(r.size_on_disk), r.files, ", ".join(r.entries) or "-") for r in repos
    ]
    print_table(("REPOSITORY", "SIZE", "FILES", "CATALOGUE"), rows, 60)


def status_json(status: EntryStatus) -> dict[str, Any]:
    entry = status.entry
    return {
        "name": entry.name,
        "job": entry.job,
        "repo_id": entry.repo_id,
        "allow_patterns": list(entry.allow_patterns),
        "size_gb": entry.size_gb,
        "licence": entry.licence,
        "enables": entry.enables,
        "present": status.present,
        "missing": list(status.missing),
        "size_on_disk": status.size_on_disk,
        "folder": str(status.folder) if status.folder else None,
        "download": entry.download_command,
    }


def size_text(size: int) -> str:
    if size >= 10**8:
        return f"{size / 10**9:.2f} GB"
    return f"{size / 10**6:.1f} MB" if size >= 10**6 else f"{size / 10**3:.0f} kB"
