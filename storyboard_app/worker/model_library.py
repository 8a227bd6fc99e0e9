"""The model catalogue, the local cache and downloads for the app, off the UI thread.

The Models window shows what ``storyboard models`` shows and downloads the
same way, so both go through ``storyboard_app.engine.models``; that package is
imported by name on the worker thread (like ``story_drafts`` does), so code
the UI imports never imports the engine. Only plain data crosses to the UI:
:class:`ModelListing` rows, :class:`DownloadProgress` and :class:`ModelProblem`.

A download runs on a daemon thread rather than Qt's pool: a hub connection
that stalls can hold its thread for the client's time-outs, and the app must
still quit at once. Cancel sets the flag the download checks between chunks;
if the thread has not stopped within a few seconds (a stalled connection),
the window is told "cancelled" anyway and the thread's later outcome is
dropped. What was fetched stays in the cache, so the next download resumes.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from storyboard_app.project.errors import StoryboardError

MODELS_PACKAGE = "storyboard_app.engine.models"
PROGRESS_INTERVAL_S = 0.1
CANCEL_WAIT_S = 3.0


@dataclass(frozen=True)
class ModelRow:
    """One catalogue entry and whether its files are in the cache."""

    name: str
    job: str
    repo_id: str
    size_gb: float
    licence: str
    enables: str
    page: str
    download_command: str
    present: bool
    missing: tuple[str, ...]
    size_on_disk: int
    folder: str


@dataclass(frozen=True)
class DiskRow:
    """Something on disk a model can come from: a hub cache repository, a folder or a file."""

    kind: str  # "hub cache", "folder" or "file"
    name: str  # repository id, or the path
    size_on_disk: int
    files: int
    entries: tuple[str, ...] = ()  # catalogue entries it holds
    exists: bool = True


@dataclass(frozen=True)
class ModelListing:
    cache: str
    jobs: tuple[str, ...]
    catalogue: tuple[ModelRow, ...]
    on_disk: tuple[DiskRow, ...]
    token_file: str  # where the hub's token file is
    has_token: bool

    def row(self, name: str) -> ModelRow | None:
        return next((row for row in self.catalogue if row.name == name), None)


@dataclass(frozen=True)
class DownloadProgress:
    name: str
    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        """Bytes per second so far; 0 before there is one."""
        return self.done / self.seconds if self.done > 0 and self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        return max(self.total - self.done, 0) / rate if rate else None

    def describe(self) -> str:
        """``sd15: 120 of 2100 MB, 12.5 MB/s, 2 min 38 s left``."""
        text = f"{self.name}: {self.done / 1e6:.0f} of {max(self.total, self.done) / 1e6:.0f} MB"
        left = self.seconds_left
        if left is not None:
            text += f", {self.rate / 1e6:.1f} MB/s, {_duration(left)} left"
        return text


@dataclass(frozen=True)
class ModelProblem:
    """A download that failed: what happened, the fix, and the model page for a licence."""

    name: str
    message: str
    hint: str
    page: str = ""
    gated: bool = False


def _models(module: str) -> Any:
    return importlib.import_module(f"{MODELS_PACKAGE}.{module}")


def read_listing(local_paths: Sequence[Path] = ()) -> ModelListing:
    """The catalogue against the cache, the cache's repositories and ``local_paths`` (blocking)."""
    manager, catalogue, hub = _models("manager"), _models("catalogue"), _models("hub")
    rows = tuple(_row(status) for status in manager.catalogue_status())
    cached = tuple(
        DiskRow("hub cache", repo.repo_id, repo.size_on_disk, repo.files, repo.entries)
        for repo in manager.cached_repos()
        if repo.repo_type == "model"
    )
    token_file = hub.hub_token_path()
    return ModelListing(
        str(hub.hub_cache_dir()),
        tuple(catalogue.JOBS),
        rows,
        cached + tuple(local_row(Path(path)) for path in local_paths),
        str(token_file),
        hub.hub_token() is not None,
    )


def _row(status: Any) -> ModelRow:
    entry = status.entry
    return ModelRow(
        entry.name,
        entry.job,
        entry.repo_id,
        entry.size_gb,
        entry.licence,
        entry.enables,
        entry.page,
        entry.download_command,
        status.present,
        tuple(status.missing),
        status.size_on_disk,
        str(status.folder or ""),
    )


def local_row(path: Path) -> DiskRow:
    """A folder or single file the artist added: its size, or that it is gone."""
    if path.is_file():
        return DiskRow("file", str(path), path.stat().st_size, 1)
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        return DiskRow("folder", str(path), sum(p.stat().st_size for p in files), len(files))
    return DiskRow("folder" if not path.suffix else "file", str(path), 0, 0, exists=False)


def remove_model(name: str) -> tuple[int, list[str]]:
    """Delete an entry's repository from the cache: bytes freed, other entries removed with it."""
    catalogue, manager = _models("catalogue"), _models("manager")
    freed, others = manager.remove_entry(catalogue.find_entry(name))
    return int(freed), list(others)


def save_token(token: str) -> Path:
    """Store the hub token in the hub's own token file (never in a project)."""
    return Path(_models("hub").save_hub_token(token))


class ModelListingTask(QObject):
    """Reads :func:`read_listing` on Qt's pool; ``listed`` carries it (or ``failed`` why not)."""

    listed = Signal(object)  # ModelListing
    failed = Signal(str)

    def __init__(self, local_paths: Sequence[Path], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = list(local_paths)

    def start(self) -> None:
        QThreadPool.globalInstance().start(self._run)

    def _run(self) -> None:
        try:
            listing = read_listing(self._paths)
        except Exception as error:  # a damaged cache folder: say so, never leave the window empty
            self.failed.emit(f"The model cache could not be read: {error}")
            return
        self.listed.emit(listing)


class ModelDownload(QObject):
    """Downloads catalogue entries one after another; signals are queued to the UI thread.

    ``finished`` carries the names downloaded; ``failed`` a :class:`ModelProblem`
    (the entries after the failed one are not started); ``cancelled`` the name
    that was being downloaded. Exactly one of the three ends every download.
    """

    progressed = Signal(object)  # DownloadProgress
    finished = Signal(object)  # list[str]
    failed = Signal(object)  # ModelProblem
    cancelled = Signal(str)

    def __init__(self, names: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.names = list(names)
        self.current = self.names[0] if self.names else ""
        self._cancel = threading.Event()
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="model download", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next chunk; a stalled connection is given up on after CANCEL_WAIT_S."""
        if self._settled.is_set() or self._cancel.is_set():
            return
        self._cancel.set()
        timer = threading.Timer(CANCEL_WAIT_S, lambda: self._settle(self.cancelled, self.current))
        timer.daemon = True
        timer.start()

    def is_done(self) -> bool:
        return self._settled.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait for the thread itself to end (tests); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        catalogue, manager = _models("catalogue"), _models("manager")
        errors = importlib.import_module("storyboard_app.engine.errors")
        done: list[str] = []
        for name in self.names:
            self.current = name
            try:
                entry = catalogue.find_entry(name)
                manager.download_entry(entry, self._reporter(name), self._cancel)
            except errors.DownloadCancelledError:
                self._settle(self.cancelled, name)
                return
            except StoryboardError as error:
                gated = isinstance(error, errors.GatedModelError)
                self._settle(self.failed, _problem(name, error, gated))
                return
            except Exception as error:  # the thread's edge: the window always hears back
                self._settle(
                    self.failed, ModelProblem(name, f"Downloading {name} failed.", str(error))
                )
                return
            done.append(name)
        self._settle(self.finished, done)

    def _reporter(self, name: str) -> Any:
        started = time.monotonic()
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] < PROGRESS_INTERVAL_S and done < total:
                return
            last[0] = now
            if not self._settled.is_set():
                self.progressed.emit(DownloadProgress(name, done, total, now - started))

        return report

    def _settle(self, signal: Any, payload: object) -> None:
        """Emit the one ending signal; whatever comes after it (a late thread) is dropped."""
        with self._lock:
            if self._settled.is_set():
                return
            self._settled.set()
        signal.emit(payload)


def _problem(name: str, error: StoryboardError, gated: bool) -> ModelProblem:
    page = _models("catalogue").find_entry(name).page if gated else ""
    return ModelProblem(name, error.message, error.hint, page, gated)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"
