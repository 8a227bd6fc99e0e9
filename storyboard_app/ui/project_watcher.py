"""ProjectWatcher: the open window notices when another program changes its project.

The command line (or a second window) may edit the project while it is open.
Twice a second the watcher asks its own SQLite connection whether anyone else
committed (:class:`ChangeWatch`, one ``PRAGMA data_version``); when someone
did, it reads the records the views show and compares them with the last
look, and the session tells the views what differs (one panel, the cast, the
settings, or the whole story), so the views show the other program's edit and
the next edit made here starts from it instead of from a stale copy.

The window's own edits (and the engine thread's takes, which the window
announces) are broadcast by the session: just before the views read, the
watcher reads the same parts into its snapshot, so at its next look the
window's own commit differs from nothing and costs no second round of
reloads, while a commit made elsewhere, before or after, still differs.
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
        self._looking = False  # the watcher's own broadcast is under way
        session.broadcastStarting.connect(self._views_will_read)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> bool:
        """Look once; True when something changed and the views were told."""
        if not self._watch.changed():
            return False
        try:
            snapshot = (
                self._snapshot.looked_again(self._session.store)
                if self._snapshot is not None
                else ProjectSnapshot.read(self._session.store)
            )
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
            self._looking = True
            try:
                self._session.changed(
                    characters=changes.characters,
                    scenes=changes.scenes,
                    scene_ids=changes.scene_ids,
                    settings=changes.settings,
                )
            finally:
                self._looking = False
        return bool(changes)

    def _views_will_read(self, parts: ProjectChanges) -> None:
        """The window shows its own edit: what the views re-read is no news at the next look."""
        if self._looking or self._snapshot is None:
            return
        try:
            self._snapshot = self._snapshot.refreshed(self._session.store, parts)
        except StoryboardError:
            self._snapshot = None  # compare nothing: the next look reloads everything

    def _read_snapshot(self) -> ProjectSnapshot | None:
        try:
            return ProjectSnapshot.read(self._session.store)
        except StoryboardError:
            return None

    def close(self) -> None:
        self._timer.stop()
        self._watch.close()
