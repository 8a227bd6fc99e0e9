"""ProjectController: which project is open; opening, creating, duplicating and closing one.

Failures (no project there, a damaged or newer file, a read-only folder) come
back as messages for the window; the open project, if any, stays open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.errors import ProjectNotFoundError, StoryboardError
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.message_bar import UserMessage
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
        self.workspace = ProjectWorkspace(store, self._host, self._app_settings, self)
        self._app_settings.add_recent_project(store.folder)
        self.recentChanged.emit()
        self.workspaceChanged.emit(self.workspace)

    def _refuse(self, error: StoryboardError) -> bool:
        self.messageRaised.emit(UserMessage.from_error(error))
        return False
