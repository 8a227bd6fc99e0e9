"""The catalogue against the local Hugging Face cache: status, download, removal.

Everything goes through ``huggingface_hub`` into its standard cache
(``HF_HUB_CACHE``, else ``HF_HOME/hub``, read at call time like the loader
does), so what is downloaded here is what ``--model REPO_ID`` and the
transition loader find. Only an entry's ``allow_patterns`` are fetched.
Files already complete are kept, so a download run again fetches only the
rest; within one run the hub client resumes a dropped connection with a
``Range`` request, while a file cut short by a cancel starts over next time
(the client writes each file to a temporary file of its own). Cancel is
cooperative: the progress hook raises between chunks once asked to stop.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from huggingface_hub import CachedRepoInfo, CachedRevisionInfo, scan_cache_dir, snapshot_download
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import (
    CacheNotFound,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from tqdm.auto import tqdm

from storyboard_app.engine.errors import (
    DownloadCancelledError,
    GatedModelError,
    ModelDownloadError,
)
from storyboard_app.engine.models.catalogue import CATALOGUE, CatalogueEntry, entries_for
from storyboard_app.engine.models.hub import hub_cache_dir, hub_endpoint, hub_token
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.files import disk_full_error, is_disk_full

ProgressReport = Callable[[int, int], None]  # bytes done, bytes in all
_POLL_S = 0.2
# A cancelled download stops at its next chunk; a stalled connection may never deliver one.
_CANCEL_WAIT_S = 3.0


@dataclass(frozen=True)
class EntryStatus:
    """A catalogue entry and which of its files the cache holds."""

    entry: CatalogueEntry
    missing: tuple[str, ...]  # allow_patterns no cached file matches
    size_on_disk: int
    folder: Path | None  # the cached snapshot, when there is one

    @property
    def present(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class CachedRepo:
    """One repository in the cache, whether or not the catalogue knows it."""

    repo_id: str
    repo_type: str
    size_on_disk: int
    files: int
    entries: tuple[str, ...]  # catalogue entries stored in it


def catalogue_status(
    entries: Sequence[CatalogueEntry] = CATALOGUE, cache: Path | None = None
) -> list[EntryStatus]:
    """Each entry with what is missing from the cache (no network)."""
    repos = {repo.repo_id: repo for repo in _scan(cache) if repo.repo_type == "model"}
    return [entry_status(entry, repos.get(entry.repo_id)) for entry in entries]


def entry_status(entry: CatalogueEntry, repo: CachedRepoInfo | None) -> EntryStatus:
    revision = _current_revision(repo) if repo is not None else None
    if revision is None:
        return EntryStatus(entry, entry.allow_patterns, 0, None)
    files = {
        f.file_path.relative_to(revision.snapshot_path).as_posix(): f.size_on_disk
        for f in revision.files
    }
    wanted = [name for name in files if any(fnmatch(name, p) for p in entry.allow_patterns)]
    missing = missing_patterns(entry.allow_patterns, wanted)
    return EntryStatus(entry, missing, sum(files[n] for n in wanted), revision.snapshot_path)


def missing_patterns(patterns: Sequence[str], names: Sequence[str]) -> tuple[str, ...]:
    """The patterns no name satisfies.

    A plain file name must be there. Wildcard patterns of one folder
    (``tokenizer/*.json``, ``tokenizer/*.txt``) are alternatives: tokenizers are
    saved as ``tokenizer.json`` or as ``vocab.json`` plus ``merges.txt``, so the
    folder counts as present when any of them matches.
    """
    missing = [p for p in patterns if not _is_wildcard(p) and p not in names]
    folders: dict[str, list[str]] = {}
    for pattern in filter(_is_wildcard, patterns):
        folders.setdefault(pattern.rpartition("/")[0], []).append(pattern)
    for group in folders.values():
        if not any(fnmatch(name, p) for name in names for p in group):
            missing.extend(group)
    return tuple(missing)


def _is_wildcard(pattern: str) -> bool:
    return any(mark in pattern for mark in "*?[")


def cached_repos(cache: Path | None = None) -> list[CachedRepo]:
    """Everything in the cache, largest first: catalogue models and anything else."""
    found = [
        CachedRepo(
            repo.repo_id,
            repo.repo_type,
            repo.size_on_disk,
            repo.nb_files,
            tuple(e.name for e in entries_for(repo.repo_id)),
        )
        for repo in _scan(cache)
    ]
    return sorted(found, key=lambda repo: -repo.size_on_disk)


def download_entry(
    entry: CatalogueEntry,
    report: ProgressReport,
    cancel: threading.Event,
    cache: Path | None = None,
) -> EntryStatus:
    """Download the entry's files into the cache; raise a clear error if any is still missing.

    Runs in the calling thread; ``cancel`` set from another thread stops it at
    the next chunk with :class:`DownloadCancelledError`.
    """
    folder = cache or hub_cache_dir()
    _refuse_offline_mode()
    try:
        snapshot_download(
            entry.repo_id,
            allow_patterns=list(entry.allow_patterns),
            cache_dir=folder,
            endpoint=hub_endpoint(),
            token=hub_token(),
            tqdm_class=_reporting_bar(report, cancel),
        )
    except DownloadCancelledError:
        raise
    except Exception as exc:  # every failure of the hub client becomes one message
        raise download_error(exc, entry, folder) from exc
    return _check_complete(entry, folder)


def download_in_background(
    entry: CatalogueEntry, report: ProgressReport, cache: Path | None = None
) -> EntryStatus:
    """:func:`download_entry` on a worker thread, so Ctrl+C reaches this one and cancels it.

    The main thread waits in short joins; a KeyboardInterrupt sets the cancel
    flag and waits (a little) for the worker to stop at its next chunk. A hub
    thread stuck on a stalled connection is left behind, and the repository's
    partial files are removed, so a cancel never waits for a network timeout.
    """
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["status"] = download_entry(entry, report, cancel, cache)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"download {entry.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(_POLL_S)
    except KeyboardInterrupt:
        cancel.set()
        worker.join(_CANCEL_WAIT_S)
        remove_partial_files(entry, cache or hub_cache_dir())
        raise _cancelled(entry) from None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["status"]


def remove_partial_files(entry: CatalogueEntry, cache: Path) -> None:
    """Delete the ``.incomplete`` files of the entry's repository (a download left behind)."""
    blobs = cache / repo_folder_name(repo_id=entry.repo_id, repo_type="model") / "blobs"
    for partial in blobs.glob("*.incomplete"):
        partial.unlink(missing_ok=True)


def remove_entry(entry: CatalogueEntry, cache: Path | None = None) -> tuple[int, list[str]]:
    """Delete every cached revision of the entry's repository.

    Returns the bytes freed and the other catalogue entries stored in the same
    repository (``ip-adapter-sd15`` and ``ip-adapter-sdxl`` share ``h94/IP-Adapter``),
    which go with it.
    """
    info = _scan_info(cache)
    repo = next((r for r in info.repos if r.repo_id == entry.repo_id), None) if info else None
    if info is None or repo is None:
        return 0, []
    strategy = info.delete_revisions(*(revision.commit_hash for revision in repo.revisions))
    strategy.execute()
    others = [e.name for e in entries_for(entry.repo_id) if e.name != entry.name]
    return strategy.expected_freed_size, others


def download_error(exc: BaseException, entry: CatalogueEntry, cache: Path) -> StoryboardError:
    """One message with its fix for whatever the hub client raised."""
    chain = list(_causes(exc))
    if any(isinstance(e, OSError) and is_disk_full(e, cache) for e in chain):
        return disk_full_error(cache)
    status = next((_status(e) for e in chain if _status(e)), 0)
    if any(isinstance(e, GatedRepoError) for e in chain) or status == 403:
        return _gated(entry, status)
    if any(isinstance(e, RemoteEntryNotFoundError) for e in chain):
        return ModelDownloadError(
            f"A file of {entry.name} is not on the hub in {entry.repo_id} ({exc}).",
            "The catalogue entry is out of date; report it, or download the model by hand "
            "and give its folder.",
        )
    if any(isinstance(e, RepositoryNotFoundError) for e in chain) or status in (401, 404):
        return ModelDownloadError(
            f"{entry.repo_id} was not found on {hub_endpoint()} (HTTP {status or 404}).",
            f"Check {entry.page}; a private repository needs a token (`huggingface-cli login` "
            "or HF_TOKEN).",
        )
    if status:
        return ModelDownloadError(
            f"{hub_endpoint()} answered HTTP {status} while downloading {entry.name}.",
            f"Try again later; what was downloaded is kept: `{entry.download_command}`.",
        )
    if any(isinstance(e, (*_HTTP_ERRORS.timeouts, TimeoutError)) for e in chain):
        return ModelDownloadError(
            f"{hub_endpoint()} stopped answering while downloading {entry.name} (no data for "
            f"{hub_constants.HF_HUB_DOWNLOAD_TIMEOUT:g} s, several tries).",
            "Check the connection and run the same command again; files already complete "
            "are kept. A slow link can wait longer with HF_HUB_DOWNLOAD_TIMEOUT=60.",
        )
    if any(_is_network_error(e) for e in chain):
        return ModelDownloadError(
            f"Could not reach {hub_endpoint()} to download {entry.name}.",
            "Check the internet connection (or proxy) and run the same command again; files "
            "already complete are kept and only the rest is fetched.",
        )
    return ModelDownloadError(f"Downloading {entry.name} failed: {exc}", entry.download_command)


def _gated(entry: CatalogueEntry, status: int) -> GatedModelError:
    return GatedModelError(
        f"{entry.repo_id} is gated: its licence must be accepted before downloading "
        f"(HTTP {status or 401}).",
        f"Accept the licence at {entry.page} while logged in, then give this machine a token "
        "with `huggingface-cli login`, the HF_TOKEN environment variable or the token field of "
        "the app's Models window (never stored in the project), and run "
        f"`{entry.download_command}` again.",
    )


def _cancelled(entry: CatalogueEntry) -> DownloadCancelledError:
    return DownloadCancelledError(
        f"Download of {entry.name} cancelled.",
        f"Files already complete are kept; `{entry.download_command}` fetches the rest.",
    )


def _reporting_bar(report: ProgressReport, cancel: threading.Event) -> type[tqdm]:
    """A silent tqdm class for ``snapshot_download`` that reports bytes and checks ``cancel``.

    ``snapshot_download`` makes a file-count bar, a network-bytes bar and a
    bytes-written bar from this class; the bytes-written one (``unit="B"``, not
    the transfer bar) has the exact total, so it is the one reported.
    """

    class ReportingBar(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.reported = kwargs.get("unit") == "B" and "Downloading bytes" not in str(
                kwargs.get("desc", "")
            )
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if cancel.is_set():
                raise DownloadCancelledError("Download cancelled.", "")
            self.n += n or 0
            if self.reported:
                report(int(self.n), int(self.total or 0))
            return None

        def refresh(self, *args: Any, **kwargs: Any) -> None:
            if self.reported:
                report(int(self.n), int(self.total or 0))

    return ReportingBar


def _check_complete(entry: CatalogueEntry, cache: Path) -> EntryStatus:
    status = catalogue_status([entry], cache)[0]
    if status.missing:
        raise ModelDownloadError(
            f"{entry.repo_id} on {hub_endpoint()} has no file matching "
            f"{', '.join(status.missing)}, which {entry.name} needs.",
            "The catalogue entry is out of date; report it, or download the model by hand "
            "and give its folder.",
        )
    return status


def _refuse_offline_mode() -> None:
    if hub_constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise ModelDownloadError(
            "Downloads are switched off: HF_HUB_OFFLINE is set.",
            "Unset HF_HUB_OFFLINE (or set it to 0) and run the command again.",
        )


def _scan(cache: Path | None) -> list[CachedRepoInfo]:
    info = _scan_info(cache)
    return sorted(info.repos, key=lambda repo: repo.repo_id) if info else []


def _scan_info(cache: Path | None) -> Any:
    folder = cache or hub_cache_dir()
    try:
        return scan_cache_dir(folder)
    except CacheNotFound:
        return None


def _current_revision(repo: CachedRepoInfo) -> CachedRevisionInfo | None:
    """The revision ``main`` points at, else the newest one."""
    revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
    main = [r for r in revisions if "main" in r.refs]
    return (main or revisions or [None])[0]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) if isinstance(exc, HfHubHTTPError) else None
    return int(getattr(response, "status_code", 0) or 0)


@dataclass(frozen=True)
class _HttpErrors:
    """The exception classes of the HTTP library huggingface_hub downloads with."""

    timeouts: tuple[type[BaseException], ...]
    transport: tuple[type[BaseException], ...]


def _http_errors() -> _HttpErrors:
    """huggingface_hub 2 downloads with ``httpx2``, 1.x (which diffusers also accepts)
    with ``httpx``: whichever is installed, so that importing this module never fails
    for the other (it made ``storyboard render`` fail on a machine with 1.x)."""
    for name in ("httpx2", "httpx"):
        try:
            library = importlib.import_module(name)
        except ImportError:
            continue
        return _HttpErrors((library.TimeoutException,), (library.TransportError,))
    return _HttpErrors((), ())


_HTTP_ERRORS = _http_errors()


def _is_network_error(exc: BaseException) -> bool:
    kinds = (*_HTTP_ERRORS.transport, ConnectionError, TimeoutError, LocalEntryNotFoundError)
    return isinstance(exc, kinds) and not isinstance(exc, OfflineModeIsEnabled)
