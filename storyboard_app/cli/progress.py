"""One progress reporter for the long commands: render, transition, export, train-motion.

On a terminal one line per stage is redrawn in place. Anywhere else (a log
file, a CI job, a pipe into ``tee``) whole newline-terminated lines are
written, never ``\\r``, and at most one a second per stage plus the stage's
last, so a log of a long render stays short and readable.

Whatever else is written to stderr while a terminal line is open (a warning,
the final error) starts on a new line: the reporter puts a guard in front of
``sys.stderr`` for as long as it is open.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

BAR_WIDTH = 20
LOG_INTERVAL_S = 1.0  # not a terminal: at most one line a second per stage (plus the last)
TERMINAL_INTERVAL_S = 0.1  # a terminal: redraw at most ten times a second


@dataclass(frozen=True)
class Step:
    """``done`` of ``total`` ``unit`` of ``stage``; ``detail`` follows (e.g. a loss)."""

    stage: str
    done: int
    total: int
    unit: str = ""
    detail: str = ""

    def line(self, seconds: float) -> str:
        fraction = min(max(self.done / self.total, 0.0), 1.0) if self.total > 0 else 1.0
        filled = round(BAR_WIDTH * fraction)
        text = f"{self.stage} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total}"
        text += f" {self.unit}" if self.unit else ""
        text += f" {self.detail}" if self.detail else ""
        return f"{text} ({seconds:.0f} s)"

    @property
    def finished(self) -> bool:
        return self.done >= self.total


class LineGuard:
    """Stands in for stderr: ends an open progress line before anything else is written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.line_open = False

    def draw(self, text: str) -> None:
        """Redraw the open line (terminal only)."""
        self.stream.write(text)
        self.stream.flush()
        self.line_open = True

    def end_line(self) -> None:
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False

    def write(self, text: str) -> int:
        if text:
            self.end_line()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Progress:
    """Progress of one command on stderr; use it as a context manager.

    ``update`` may be called as often as the work likes: what is written is
    limited by time, and each stage's last step is always written. Disabled
    (``--quiet``), it writes nothing.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interactive = _is_terminal(self.stream) if interactive is None else interactive
        self.interval = TERMINAL_INTERVAL_S if self.interactive else LOG_INTERVAL_S
        self.clock = clock
        self.guard = LineGuard(self.stream)
        self.saved_stderr: TextIO | None = None
        self.current: Step | None = None
        self.pending: Step | None = None  # the newest step not written yet
        self.stage_started = self.last_written = 0.0
        self.width = 0

    def __enter__(self) -> Progress:
        if self.enabled and self.interactive and sys.stderr is self.stream:
            self.saved_stderr, sys.stderr = sys.stderr, self.guard  # type: ignore[assignment]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def update(
        self, stage: str, done: int, total: int, unit: str = "", detail: str | None = None
    ) -> None:
        """Report ``done`` of ``total``; written now, later or never, by the rate limit.

        ``detail`` None keeps the stage's previous detail (a loss reported every
        tenth step stays on the line in between).
        """
        if not self.enabled:
            return
        same_stage = self.current is not None and stage == self.current.stage
        if detail is None:
            detail = self.current.detail if same_stage and self.current else ""
        step = Step(stage, done, total, unit, detail)
        now = self.clock()
        if not same_stage:
            self._finish_stage()
            self.stage_started = now
        elif not step.finished and now - self.last_written < self.interval:
            self.current = self.pending = step
            return
        self.current = step
        self._write(step, now)

    def end_line(self) -> None:
        """Write the last step if it was held back and end the line (before stdout output)."""
        self._finish_stage()

    def close(self) -> None:
        """Write the last step if it was held back, end the line, give stderr back."""
        self._finish_stage()
        if self.saved_stderr is not None:
            sys.stderr, self.saved_stderr = self.saved_stderr, None

    def _finish_stage(self) -> None:
        if self.pending is not None:
            self._write(self.pending, self.clock())
        self.guard.end_line()
        self.current = None
        self.width = 0

    def _write(self, step: Step, now: float) -> None:
        line = step.line(now - self.stage_started)
        if self.interactive:
            self.guard.draw("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()
        self.last_written = now
        self.pending = None


def progress_for(args: argparse.Namespace) -> Progress:
    """The command's progress on stderr; nothing with ``--quiet``."""
    return Progress(enabled=not getattr(args, "quiet", False))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
