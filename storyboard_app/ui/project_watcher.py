"""ProjectWatcher: the open window notices when another program changes its project.

The command line (or a second window) may edit the project while it is open.
Twice a second the watcher asks its own SQLite connection whether anyone else
committed (:class:`ChangeWatch`, one ``PRAGMA data_version``); when someone
did, it reads the records the views show and compares them with the last
look, and the session tells the views what differs (one panel, the cast, the
settings, or the whole story), so the views show the other program's edit and
the next edit made here starts from it instead of from a stale copy. The
window's own edits and the engine thread's commits count as "someone else"
too: they cost one narrow refresh of what they changed, never a missed change.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from storyboard_app.project.change_watch import (
    ChangeWatch,
    ProjectChanges,
    ProjectSnapshot,
    changes_between,
)
from storyboard_app.project.errors import StoryboardError
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
        self._snapshot: ProjectSnapshot | None = self._read_snapshot()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> bool:
        """Look once; True when something changed and the views were told."""
        if not self._watch.changed():
            return False
        try:
            snapshot = ProjectSnapshot.read(self._session.store)
        except StoryboardError:
            # Unreadable values: every view reads again and reports them its own way.
            self._snapshot = None
            self._session.reload_from_store()
            return True
        changes = (
            changes_between(self._snapshot, snapshot)
            if self._snapshot is not None
            else ProjectChanges(settings=True, characters=True, scenes=True)
        )
        self._snapshot = snapshot
        if changes:
            self._session.changed(
                characters=changes.characters,
                scenes=changes.scenes,
                scene_ids=changes.scene_ids,
                settings=changes.settings,
            )
        return bool(changes)

    def _read_snapshot(self) -> ProjectSnapshot | None:
        try:
            return ProjectSnapshot.read(self._session.store)
        except StoryboardError:
            return None

    def close(self) -> None:
        self._timer.stop()
        self._watch.close()
