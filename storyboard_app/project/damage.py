"""Reading past damaged stored values, for a window that must open to let them be fixed.

The command line refuses a project whose stored values are unreadable (a
camera move or a take's settings that are not JSON, a duration that is not a
number): one message naming the panel and field. The desktop app instead opens
the project with a :class:`DamageLog`: each damaged value is noted once, in the
same words, and read as its empty default (no camera move, no recorded
settings, the default duration), so the window opens, says what is damaged,
and setting the value again repairs it. Nothing is written by reading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import object_session

from storyboard_app.project.errors import ValidationError

T = TypeVar("T")
DAMAGE_LOG_KEY = "storyboard_damage_log"


class DamageLog:
    """The damaged values met so far, each message once, in the order they were met."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def note(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)


def read_stored(row: object, read: Callable[[], T], default: T) -> T:
    """``read()``; where the row's store tolerates damage, a refused value becomes ``default``."""
    try:
        return read()
    except ValidationError as error:
        session = object_session(row)
        log = session.info.get(DAMAGE_LOG_KEY) if session is not None else None
        if log is None:
            raise
        log.note(error.message)
        return default
