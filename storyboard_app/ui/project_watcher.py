"""ProjectWatcher: the open window notices when another program changes its project.

The command line (or a second window) may edit the project while it is open.
Twice a second the watcher asks its own SQLite connection whether anyone else
committed (:class:`ChangeWatch`, one ``PRAGMA data_version``); when someone
did, the session reads everything again, so the views show the other
program's edit and the next edit made here starts from it instead of from a
stale copy. The engine thread's commits count as "someone else" too, which
costs one extra refresh after a render and nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from storyboard_app.project.change_watch import ChangeWatch
from storyboard_app.project.store import DATABASE_NAME
from storyboard_app.ui.project_session import ProjectSession

WATCH_INTERVAL_MS = 500


class ProjectWatcher(QObject):
    """Polls the project for commits made elsewhere; refreshes the session when it finds one."""

    def __init__(
        self,
        session: ProjectSession,
        interval_ms: int = WATCH_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._watch = ChangeWatch(session.folder / DATABASE_NAME)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> bool:
        """Look once; True when something changed and the session was refreshed."""
        if not self._watch.changed():
            return False
        self._session.reload_from_store()
        return True

    def close(self) -> None:
        self._timer.stop()
        self._watch.close()
