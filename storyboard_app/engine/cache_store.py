"""A project's folder of identity caches: naming, listing, clearing, eviction by use.

Beside them, in ``ip_adapter/``, are the IP-Adapter embeddings of the
characters' reference pictures (see ``steering/ip_adapter.py``): disposable
too, so listed and cleared with them, but kept out of the disk budget (a few
kilobytes each, and an encoder would have to be loaded to make one again).

A character may have several caches, one per settings key (size, steps,
precision...), so switching between two sizes does not rebuild anything. The
folder is kept under a disk budget by deleting the least recently used caches
first; opening a cache for a render marks it used (its modification time).
Only files that carry our cache marker are ever deleted, never a foreign file
that happens to sit in the folder. Reading headers only, this module needs no
torch, so ``storyboard cache`` starts at once.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storyboard_app.engine.cache_format import (
    CACHE_FORMAT,
    CacheFileDamaged,
    carries_marker,
    read_header,
    read_raw_header,
)

CACHE_SUFFIX = ".safetensors"
IDENTITY_CACHE_DIR = Path("cache") / "identity"  # inside the project folder
DEFAULT_BUDGET_GB = 20.0
STALE_PARTIAL_SECONDS = 600  # a build writes every step: older partial files are leftovers
EMBEDS_DIR = "ip_adapter"  # inside the identity cache folder
EMBEDS_FORMAT = "storyboard-ip-adapter-embeddings/1"
EMBEDS_TENSOR = "embeds"
# Embeddings are named by their 32-hex key; older ones carry no metadata, only that name.
EMBEDS_NAME = re.compile(r"[0-9a-f]{32}\.(safetensors|partial)")


@dataclass(frozen=True)
class CacheInfo:
    """One cache file as ``storyboard cache`` lists it."""

    path: Path
    character: str
    summary: str
    size: int
    last_used: datetime
    state: str  # "ok", "old version" or "damaged"
    kind: str = "identity"  # or "ip_adapter": a reference picture's embeddings


def cache_path(cache_dir: Path | None, character: str, key: str) -> Path | None:
    """Where the cache of ``character`` under ``key`` lives (None: no cache folder)."""
    if cache_dir is None:
        return None
    return cache_dir / f"{character_prefix(character)}{key[:24]}{CACHE_SUFFIX}"


def character_prefix(character: str) -> str:
    """The start of every cache file name of ``character``.

    The slug is for people; the full name's hash keeps names that slug alike apart.
    """
    name_id = hashlib.sha256(character.encode("utf-8")).hexdigest()[:16]
    return f"{slug(character)}-{name_id}-"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "character"


def list_caches(cache_dir: Path) -> list[CacheInfo]:
    """Every file of ours in ``cache_dir``, most recently used first."""
    if not cache_dir.is_dir():
        return []
    infos = [_info(path) for path in cache_dir.glob(f"*{CACHE_SUFFIX}") if carries_marker(path)]
    return sorted((info for info in infos if info), key=lambda i: i.last_used, reverse=True)


def _info(path: Path) -> CacheInfo | None:
    try:
        stat = path.stat()
    except OSError:  # deleted meanwhile by another process
        return None
    used = datetime.fromtimestamp(stat.st_mtime, UTC)
    try:
        header = read_header(path)
    except (OSError, CacheFileDamaged):
        return CacheInfo(path, _character_from_name(path), "", stat.st_size, used, "damaged")
    metadata = header.metadata
    character = metadata.get("character") or _character_from_name(path)
    state = "ok" if header.format == CACHE_FORMAT else "old version"
    return CacheInfo(path, character, metadata.get("summary", ""), stat.st_size, used, state)


def _character_from_name(path: Path) -> str:
    """The slug in a cache file's name, for files whose header cannot say."""
    return path.name.split("-", 1)[0]


def list_embeddings(cache_dir: Path) -> list[CacheInfo]:
    """The picture embeddings in ``cache_dir``'s ``ip_adapter/``, most recently used first.

    Ours are named by their key and hold one ``embeds`` tensor; any other file
    there is left alone, as in the cache folder itself.
    """
    folder = cache_dir / EMBEDS_DIR
    if not folder.is_dir():
        return []
    infos = [_embeddings_info(path) for path in folder.glob(f"*{CACHE_SUFFIX}")]
    return sorted((info for info in infos if info), key=lambda i: i.last_used, reverse=True)


def _embeddings_info(path: Path) -> CacheInfo | None:
    """A file of ours (its key for a name, one ``embeds`` tensor), else None: an unreadable
    one is not provably ours (they are written whole, then renamed), and a render that
    finds it damaged deletes it itself."""
    if not EMBEDS_NAME.fullmatch(path.name):
        return None
    try:
        stat = path.stat()
        raw, _, _ = read_raw_header(path)
    except (OSError, CacheFileDamaged):
        return None
    metadata = raw.pop("__metadata__", None) or {}
    if set(raw) != {EMBEDS_TENSOR} or not isinstance(metadata, dict):
        return None
    return CacheInfo(
        path,
        str(metadata.get("character", "")),
        str(metadata.get("summary", "IP-Adapter embeddings")),
        stat.st_size,
        datetime.fromtimestamp(stat.st_mtime, UTC),
        "ok",
        kind="ip_adapter",
    )


def list_all(cache_dir: Path) -> list[CacheInfo]:
    """The identity caches, then the picture embeddings: what ``storyboard cache`` shows."""
    return list_caches(cache_dir) + list_embeddings(cache_dir)


def clear_caches(cache_dir: Path, character: str | None = None) -> list[CacheInfo]:
    """Delete our caches and picture embeddings (of ``character`` only, when given); the
    ones deleted.

    A character's caches are recognised by the prefix of their name, so damaged
    caches of that character go too; its embeddings by the name they were made
    for (embeddings from before they carried one go only when all are cleared).
    """
    prefix = character_prefix(character) if character is not None else ""
    removed = []
    for info in list_caches(cache_dir):
        if info.path.name.startswith(prefix) and _delete(info.path):
            removed.append(info)
    for info in list_embeddings(cache_dir):
        if character in (None, info.character) and _delete(info.path):
            removed.append(info)
    remove_leftovers(cache_dir, prefix)
    if character is None:
        embeds = cache_dir / EMBEDS_DIR
        partials = embeds.glob("*.partial") if embeds.is_dir() else ()
        _delete_stale(p for p in partials if EMBEDS_NAME.fullmatch(p.name))
    return removed


def remove_leftovers(cache_dir: Path, prefix: str = "") -> list[Path]:
    """Delete the partial files of builds that ended without finishing (a crash, a
    kill), recognised by our naming and by not having been written for a while."""
    if not cache_dir.is_dir():
        return []
    return _delete_stale(cache_dir.glob(f"{prefix}*{CACHE_SUFFIX}.*.partial"))


def _delete_stale(paths: Iterable[Path]) -> list[Path]:
    """Delete the files not written for a while (a live writer's partial file stays)."""
    now = time.time()
    removed = []
    for path in paths:
        try:
            stale = now - path.stat().st_mtime > STALE_PARTIAL_SECONDS
        except OSError:
            continue
        if stale and _delete(path):
            removed.append(path)
    return removed


def evict_caches(cache_dir: Path, budget_bytes: int, keep: Iterable[Path] = ()) -> list[CacheInfo]:
    """Delete least recently used caches until the folder fits ``budget_bytes``.

    Caches in ``keep`` (the ones the running render uses) are never deleted,
    even when they alone exceed the budget. Returns the caches deleted.
    """
    kept = {Path(p).resolve() for p in keep}
    caches = list_caches(cache_dir)
    total = sum(info.size for info in caches)
    removed = []
    for info in reversed(caches):  # least recently used first
        if total <= budget_bytes:
            break
        if info.path.resolve() in kept or not _delete(info.path):
            continue
        total -= info.size
        removed.append(info)
    return removed


def budget_bytes(budget_gb: float) -> int:
    return int(budget_gb * 10**9)


def _delete(path: Path) -> bool:
    """Remove one file; False when it cannot be (open elsewhere on Windows, gone)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except PermissionError:
        return False
    return True
