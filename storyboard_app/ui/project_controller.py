"""ProjectController: which project is open; opening, creating, duplicating and closing one.

Failures (no project there, a damaged or newer file, a read-only folder) come
back as messages for the window; the open project, if any, stays open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.damage import DamageLog
from storyboard_app.project.errors import ProjectNotFoundError, StoryboardError
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.message_bar import Severity, UserMessage
from storyboard_app.ui.project_files import create_from_script, duplicate_project
from storyboard_app.ui.workspace import ProjectWorkspace
from storyboard_app.worker.host import EngineHost


class ProjectController(QObject):
    workspaceChanged = Signal(object)  # ProjectWorkspace or None
    messageRaised = Signal(object)  # UserMessage
    recentChanged = Signal()

    def __init__(
        self, host: EngineHost, app_settings: AppSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._app_settings = app_settings
        self.workspace: ProjectWorkspace | None = None

    def open(self, path: Path) -> bool:
        try:
            store = ProjectStore.open(path)
        except ProjectNotFoundError as exc:
            self._app_settings.remove_recent_project(Path(path))
            self.recentChanged.emit()
            return self._refuse(exc)
        except StoryboardError as exc:
            return self._refuse(exc)
        self._install(store)
        return True

    def create(self, path: Path) -> bool:
        try:
            store = ProjectStore.create(path)
        except StoryboardError as exc:
            return self._refuse(exc)
        self._install(store)
        return True

    def create_from_script(self, script: Path, destination: Path) -> bool:
        """A new project holding a story script, e.g. a bundled example."""
        try:
            store = create_from_script(script, destination)
        except StoryboardError as exc:
            return self._refuse(exc)
        self._install(store)
        return True

    def save_as(self, destination: Path) -> bool:
        """Duplicate the open project to ``destination`` and continue in the copy."""
        if self.workspace is None:
            return False
        try:
            folder = duplicate_project(self.workspace.store.folder, destination)
        except StoryboardError as exc:
            return self._refuse(exc)
        return self.open(folder)

    def close(self) -> None:
        if self.workspace is not None:
            workspace, self.workspace = self.workspace, None
            self.workspaceChanged.emit(None)
            workspace.close()
            workspace.deleteLater()

    def _install(self, store: ProjectStore) -> None:
        self.close()
        store.damage = DamageLog()  # damaged values are reported below, not fatal
        self.workspace = ProjectWorkspace(store, self._host, self._app_settings, self)
        self._app_settings.add_recent_project(store.folder)
        self.recentChanged.emit()
        self.workspaceChanged.emit(self.workspace)
        if store.damage.problems:
            self.messageRaised.emit(damage_message(store.damage))

    def _refuse(self, error: StoryboardError) -> bool:
        self.messageRaised.emit(UserMessage.from_error(error))
        return False


def damage_message(damage: DamageLog) -> UserMessage:
    """One warning listing the project's damaged values (they are shown empty)."""
    shown = damage.problems[:5]
    more = len(damage.problems) - len(shown)
    text = " ".join(shown) + (f" (and {more} more)" if more > 0 else "")
    return UserMessage(
        Severity.WARNING,
        f"Some values in this project are damaged and are shown empty: {text}",
        "Set those values again to repair them, or restore the project from a backup.",
    )
