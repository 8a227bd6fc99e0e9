"""Logging for the command line and the app, set up in one place.

``configure_logging`` is called once by each entry point (``storyboard``,
``storyboard-app``) before the heavy libraries are imported. Our own messages
go to stderr at the chosen verbosity (and, for the app, to a log file in the
user's log folder); the libraries' loading bars, notices and warnings are kept
out of normal output and shown only with ``--verbose``.

This module imports neither Qt nor torch, so both ``cli`` and ``ui`` may use it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Literal, TextIO

Verbosity = Literal["quiet", "normal", "verbose"]
OUR_LOGGER = "storyboard_app"
CONSOLE_LEVELS = {"quiet": logging.ERROR, "normal": logging.INFO, "verbose": logging.DEBUG}
# The least severe record of another library that reaches the console.
LIBRARY_CONSOLE_LEVELS = {
    "quiet": logging.ERROR,
    "normal": logging.ERROR,
    "verbose": logging.WARNING,
}
LIBRARY_VERBOSITY = {"quiet": "error", "normal": "error", "verbose": "warning"}
LOG_FILE_NAME = "storyboard.log"
LOG_FILE_BYTES = 2 * 2**20
LOG_FILE_BACKUPS = 3
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes.

    Resolved per record, so a progress line's guard (and a test's capture)
    sees every message.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current stderr; ``StreamHandler.__init__`` sets it."""


class LibraryFilter(logging.Filter):
    """Lets another library's record through only from ``level`` up."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == OUR_LOGGER or record.name.startswith(OUR_LOGGER + ".")
        return ours or record.levelno >= self.level


class ConsoleFormatter(logging.Formatter):
    """``message`` for information, ``warning: message`` and ``error: message`` otherwise."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        if record.levelno < logging.INFO:
            return f"debug: {record.name}: {text}"
        return text


def configure_logging(
    verbosity: Verbosity = "normal",
    *,
    log_file: Path | None = None,
    console_level: int | None = None,
) -> None:
    """Set up logging for this process; calling it again replaces the earlier setup.

    ``console_level`` overrides the verbosity's level on stderr (the app shows
    only warnings there and keeps the rest in ``log_file``).
    """
    quiet_libraries(verbosity)
    remove_logging()
    logging.captureWarnings(True)  # library warnings become records, filtered like the rest
    ours = logging.getLogger(OUR_LOGGER)
    ours.setLevel(logging.DEBUG if verbosity == "verbose" else logging.INFO)
    root = logging.getLogger()
    console = ConsoleHandler()
    console.setLevel(CONSOLE_LEVELS[verbosity] if console_level is None else console_level)
    console.addFilter(LibraryFilter(LIBRARY_CONSOLE_LEVELS[verbosity]))
    console.setFormatter(ConsoleFormatter())
    _install(root, console)
    if log_file is not None:
        _install(root, file_handler(log_file))


def file_handler(path: Path) -> logging.Handler:
    """A rotating log file; its folder is created, and the file only when a record comes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8", delay=True
    )
    handler.setLevel(logging.DEBUG)
    handler.addFilter(LibraryFilter(logging.WARNING))
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    return handler


def user_log_file(application: str, organization: str) -> Path:
    """The app's log file: ``$STORYBOARD_LOG_DIR`` if set, else the user log folder."""
    override = os.environ.get("STORYBOARD_LOG_DIR")
    if override:
        return Path(override) / LOG_FILE_NAME
    import platformdirs

    return Path(platformdirs.user_log_dir(application, organization)) / LOG_FILE_NAME


def remove_logging() -> None:
    """Take out the handlers an earlier ``configure_logging`` installed, closing them."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "storyboard_handler", False):
            root.removeHandler(handler)
            handler.close()
    logging.captureWarnings(False)


def quiet_libraries(verbosity: Verbosity) -> None:
    """Keep diffusers', transformers' and the hub's bars and notices out of normal output.

    Set through the environment, which the libraries read when they are
    imported (tqdm's ``TQDM_DISABLE`` covers diffusers' "Loading pipeline
    components" and the pipelines' step bars); a library imported already is
    told directly. Bars are never shown: they write ``\\r`` into logs.
    """
    level = LIBRARY_VERBOSITY[verbosity]
    os.environ["DIFFUSERS_VERBOSITY"] = level
    os.environ["TRANSFORMERS_VERBOSITY"] = level
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("diffusers.utils.logging", "transformers.utils.logging"):
        library = sys.modules.get(name)
        if library is not None:  # imported before us: its settings are read already
            library.disable_progress_bar()
            library.set_verbosity(logging.getLevelName(level.upper()))


def _install(root: logging.Logger, handler: logging.Handler) -> None:
    handler.storyboard_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
