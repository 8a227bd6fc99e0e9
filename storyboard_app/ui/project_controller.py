"""ProjectController: which project is open; opening, creating, duplicating and closing one.

Failures (no project there, a damaged or newer file, a read-only folder) come
back as messages for the window; the open project, if any, stays open. When a
render of the open project is under way, replacing the project first asks
(:attr:`ProjectController.ask_about_render`): cancel the render, wait for it and
then go on, or keep it rendering in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.damage import DamageLog
from storyboard_app.project.errors import ProjectNotFoundError, StoryboardError
from storyboard_app.project.scripts.model import StoryScript
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.message_bar import Severity, UserMessage
from storyboard_app.ui.project_files import (
    create_from_script,
    create_from_story,
    duplicate_project,
    project_location,
)
from storyboard_app.ui.render_questions import RenderChoice
from storyboard_app.ui.workspace import ProjectWorkspace
from storyboard_app.worker.host import EngineHost

# (what is running, what the artist asked for) -> the answer; None: do not do it.
RenderQuestion = Callable[[str, str], RenderChoice | None]


class ProjectController(QObject):
    workspaceChanged = Signal(object)  # ProjectWorkspace or None
    messageRaised = Signal(object)  # UserMessage
    recentChanged = Signal()
    statusMessage = Signal(str)

    def __init__(
        self, host: EngineHost, app_settings: AppSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._app_settings = app_settings
        self.workspace: ProjectWorkspace | None = None
        self.ask_about_render: RenderQuestion = lambda _running, _action: None
        self._keep_jobs = False
        self._waiting: Callable[[], object] | None = None

    def open(self, path: Path) -> bool:
        """Open the project at ``path`` instead of the open one (asking first mid-render)."""
        return self._replacing(lambda: self._open_now(path), f"open {Path(path).name}")

    def create(
        self, path: Path, title: str | None = None, settings: ProjectSettings | None = None
    ) -> bool:
        """A new empty project titled ``title`` (else named from its folder)."""
        return self._replacing(
            lambda: self._create_with(lambda: ProjectStore.create(path, title, settings)),
            f"create {Path(path).name}",
        )

    def create_from_script(self, script: Path, destination: Path) -> bool:
        """A new project holding a story script, e.g. a bundled example."""
        return self._replacing(
            lambda: self._create_from_script_now(script, destination),
            f"create {Path(destination).name}",
        )

    def create_from_story(self, script: StoryScript, destination: Path) -> bool:
        """A new project holding a story drafted and edited in File > New from Story…."""
        return self._replacing(
            lambda: self._create_with(lambda: create_from_story(script, destination)),
            f"create {Path(destination).name}",
        )

    def save_as(self, destination: Path) -> bool:
        """Duplicate the open project to ``destination`` and continue in the copy."""
        return self._replacing(
            lambda: self._save_as_now(destination), f"save a copy as {Path(destination).name}"
        )

    def close_project(self) -> bool:
        """Close the open project (File > Close), asking first mid-render."""

        def close() -> bool:
            self.close()
            return True

        return self._replacing(close, "close the project")

    def _replacing(self, action: Callable[[], bool], what: str) -> bool:
        """Run ``action`` (which replaces the open project) now, later, or not at all."""
        workspace = self.workspace
        if workspace is None or not workspace.renders.busy():
            return self._in_foreground(action)
        choice = self.ask_about_render(workspace.renders.describe_work(), what)
        if choice is None:
            return False
        if choice is RenderChoice.WAIT:
            self._wait_then(workspace, action, what)
            return False
        self._keep_jobs = choice is RenderChoice.BACKGROUND
        try:
            return self._in_foreground(action)
        finally:
            self._keep_jobs = False

    def _in_foreground(self, action: Callable[[], bool]) -> bool:
        """Run ``action`` with the engine's warm-up held back until the loop next waits
        for events, when the new project's views have made their first reads and paints
        (a thousand panels read in 40 ms alone took seconds beside the importing engine
        thread)."""
        self._host.hold_foreground_until_idle()
        return action()

    def _wait_then(
        self, workspace: ProjectWorkspace, action: Callable[[], bool], what: str
    ) -> None:
        """Run ``action`` once the workspace's renders are done (the newest request wins)."""
        first = self._waiting is None
        self._waiting = action
        if first:
            workspace.renders.idle.connect(self._run_waiting)
        self.statusMessage.emit(f"Will {what} when the render finishes.")

    def _run_waiting(self) -> None:
        action, self._waiting = self._waiting, None
        if self.workspace is not None:
            self.workspace.renders.idle.disconnect(self._run_waiting)
        if action is not None:
            action()

    def _open_now(self, path: Path) -> bool:
        path = project_location(path)
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

    def _create_from_script_now(self, script: Path, destination: Path) -> bool:
        try:
            store = create_from_script(script, destination)
        except StoryboardError as exc:
            return self._refuse(exc)
        self._install(store)
        return True

    def _create_with(self, create: Callable[[], ProjectStore]) -> bool:
        try:
            store = create()
        except StoryboardError as exc:
            return self._refuse(exc)
        self._install(store)
        return True

    def _save_as_now(self, destination: Path) -> bool:
        if self.workspace is None:
            return False
        try:
            folder = duplicate_project(self.workspace.store.folder, destination)
        except StoryboardError as exc:
            return self._refuse(exc)
        return self._open_now(folder)

    def close(self) -> None:
        """Close the open project now; its renders are cancelled unless the artist chose to
        keep them rendering in the background."""
        if self.workspace is not None:
            workspace, self.workspace = self.workspace, None
            self._waiting = None
            self.workspaceChanged.emit(None)
            workspace.close(cancel_jobs=not self._keep_jobs)
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
