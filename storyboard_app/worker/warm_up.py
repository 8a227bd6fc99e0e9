"""The engine thread's warm-up gives way while the window does what the artist waits for.

Creating the engine first imports torch, transformers and diffusers: about six
seconds of module bodies run in Python on the engine thread, holding the GIL.
SQLite's driver lets go of the GIL for every row it reads, and each time it
wants it back it may wait a whole switch interval (5 ms) for the importing
thread, so reading a thousand panels took seconds instead of 40 ms while an
import ran (``benchmarks/ui_latency.py --panels 1000`` opened such a project
in 1.0 to 1.9 s during the import, 0.4 s after it).

So the window holds a :class:`ForegroundGate` while it starts and while it
opens a project (until the event loop is next idle, when its views have made
their first reads), and the engine thread imports the heavy libraries one at a
time (:func:`import_in_turn`), each once the gate is free. An import already
under way finishes: the thread only waits between them. A hold lasts at most
:data:`MAX_HOLD_S`, so a window that forgot to let go delays the engine by
that much at worst.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

MAX_HOLD_S = 3.0


class ForegroundGate:
    """Held by the window while it does something the artist waits for; holds nest."""

    def __init__(self, max_hold_s: float = MAX_HOLD_S) -> None:
        self._max_hold_s = max_hold_s
        self._lock = threading.Lock()
        self._free = threading.Event()
        self._free.set()
        self._holders = 0
        self._deadline = 0.0

    def hold(self) -> Callable[[], None]:
        """Hold the gate until the returned function is called (a second call does nothing)."""
        with self._lock:
            if self._holders == 0:
                self._deadline = time.monotonic() + self._max_hold_s
                self._free.clear()
            self._holders += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._holders -= 1
                if self._holders == 0:
                    self._free.set()

        return release

    def wait(self) -> None:
        """Return once no one holds the gate, or once the current hold has run its time."""
        while not self._free.is_set():
            left = self._deadline - time.monotonic()
            if left <= 0:
                return
            self._free.wait(left)


def import_in_turn(modules: Sequence[str], gate: ForegroundGate) -> None:
    """Import ``modules`` one after another, each once no one holds ``gate``.

    Waiting only here, between whole imports, holds no import lock, so the window can
    import anything meanwhile (a wait inside an import hook would hold Python's global
    import lock and stop every thread's imports). A module that fails to import is
    left for the engine's own import to report.
    """
    for module in modules:
        gate.wait()
        try:
            importlib.import_module(module)
        except Exception:
            logger.debug("warming up: could not import %s", module, exc_info=True)
            return
