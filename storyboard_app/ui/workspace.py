"""ProjectWorkspace: everything that belongs to one open project, and the edits it offers.

The main window shows a workspace's widgets in its docks; opening another
project replaces the whole workspace, so no view ever outlives the project it
was built from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import LoraRecord
from storyboard_app.project.scripts.io import load_story_script
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.character_model import CharacterListModel
from storyboard_app.ui.characters_dock import CharactersPanel
from storyboard_app.ui.commands.project import (
    ChangeLorasCommand,
    ChangeSettingsCommand,
    ImportStoryCommand,
)
from storyboard_app.ui.commands.scenes import (
    AddSceneCommand,
    DeleteScenesCommand,
    MoveScenesCommand,
)
from storyboard_app.ui.commands.takes import ImportImagesCommand
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.inspector import PanelInspector
from storyboard_app.ui.message_bar import UserMessage
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.project_watcher import ProjectWatcher
from storyboard_app.ui.render_controller import RenderController
from storyboard_app.ui.render_status import RenderStatusBook
from storyboard_app.ui.storyboard_model import StoryboardModel
from storyboard_app.ui.storyboard_view import StoryboardView
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import JobOutcome, JobStatus

NEW_PANEL_PROMPT = "[NC] a new panel: describe what it shows"


class ProjectWorkspace(QObject):
    messageRaised = Signal(object)  # UserMessage
    messageResolved = Signal(object)  # a UserMessage whose condition is gone
    statusMessage = Signal(str)

    def __init__(
        self,
        store: ProjectStore,
        host: EngineHost,
        app_settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._closed = False
        self.session = ProjectSession(store, self)
        self.thumbnails = ThumbnailCache(store, self)
        self.status = RenderStatusBook(host, store.folder, self._scene_ids, self)
        self.characters = CharacterListModel(self.session, self.thumbnails, self)
        self.storyboard_model = StoryboardModel(self.session, self.status, self.thumbnails, self)
        self.storyboard = StoryboardView(self.storyboard_model)
        self.characters_panel = CharactersPanel(self.session, self.characters)
        self.inspector = PanelInspector(self.session, self.characters, self.thumbnails, self.status)
        self.renders = RenderController(self.session, host, app_settings, self)
        self.watcher = ProjectWatcher(self.session, parent=self)
        self.storyboard.currentSceneChanged.connect(self.inspector.show_scene)
        self.storyboard.moveRequested.connect(self.move_panels)
        self.inspector.renderRequested.connect(self._render_from_inspector)
        self.session.errorRaised.connect(self._on_error)
        self.session.errorResolved.connect(
            lambda error: self.messageResolved.emit(UserMessage.from_error(error))
        )
        self.renders.messageRaised.connect(self.messageRaised)

    @property
    def store(self) -> ProjectStore:
        return self.session.store

    def selected_scene_ids(self) -> list[int]:
        return self.storyboard.selected_scene_ids()

    def add_panel(self, prompt: str = NEW_PANEL_PROMPT) -> int | None:
        """Add a panel after the current one (at the end when none is current)."""
        current = self.storyboard.current_scene_id()
        position = None
        if current is not None:
            position = self.store.scenes.get(current).position + 1
        command = AddSceneCommand(self.session, prompt, position)
        if not self.session.execute(command) or command.scene_id is None:
            return None
        self.storyboard.select_scenes([command.scene_id])
        return command.scene_id

    def delete_selected(self) -> None:
        ids = self.selected_scene_ids()
        if ids:
            self.session.execute(DeleteScenesCommand(self.session, ids))

    def move_panels(self, scene_ids: Sequence[int], row: int) -> None:
        command = MoveScenesCommand(self.session, scene_ids, row)
        if command.changes_order() and self.session.execute(command):
            self.storyboard.select_scenes(list(scene_ids))

    def render_selected(self, *, reroll: bool = False) -> asyncio.Task[JobOutcome] | None:
        ids = self.selected_scene_ids()
        return self.render(ids, reroll=reroll) if ids else None

    def render_all(self) -> asyncio.Task[JobOutcome] | None:
        return self.render(None)

    def render_stale(self) -> asyncio.Task[JobOutcome] | None:
        """Render exactly the panels whose picture is out of date; None when none is."""
        ids = self.storyboard_model.stale_scene_ids()
        if not ids:
            self.statusMessage.emit("No panel is stale: every picture matches its panel.")
            return None
        return self.render(ids)

    def render(
        self, scene_ids: Sequence[int] | None, *, reroll: bool = False
    ) -> asyncio.Task[JobOutcome] | None:
        """Queue a render now; the task ends with its outcome, once the panels are stored.

        None when it cannot start (no model configured: the window says why).
        """
        job = self.renders.submit(scene_ids, reroll=reroll)
        if job is None:
            return None
        return asyncio.ensure_future(self._report(self.renders.outcome(job)))

    async def _report(self, pending: asyncio.Future[JobOutcome]) -> JobOutcome:
        outcome = await pending
        # A render kept going in the background outlives its (closed) workspace.
        if outcome.status is JobStatus.FINISHED and not self._closed:
            count = len(outcome.take_ids)
            self.statusMessage.emit(f"Rendered {count} panel{'s' if count != 1 else ''}.")
        return outcome

    def import_images(self, paths: Sequence[Path]) -> None:
        if paths:
            first = self.storyboard.current_scene_id()
            self.session.execute(ImportImagesCommand(self.session, first, list(paths)))

    def import_story(self, path: Path) -> None:
        try:
            script = load_story_script(path)
        except StoryboardError as exc:
            self._on_error(exc)
            return
        self.session.execute(ImportStoryCommand(self.session, script))

    def change_settings(self, settings: ProjectSettings) -> None:
        if settings != self.store.settings():
            self.session.execute(ChangeSettingsCommand(self.session, settings))

    def change_loras(self, loras: Sequence[LoraRecord]) -> None:
        """Make the project's LoRAs ``loras`` (undoable), if that changes anything."""
        if lora_rows(loras) != lora_rows(self.store.loras.list()):
            self.session.execute(ChangeLorasCommand(self.session, loras))

    def close(self, *, cancel_jobs: bool = True) -> None:
        """Forget the project: cancel its jobs (unless they are to go on in the background:
        they write to the project themselves), stop thumbnail loading, close the database."""
        self._closed = True
        self.watcher.close()
        if cancel_jobs:
            self.renders.cancel_all()
        self.thumbnails.close()
        for widget in (self.storyboard, self.characters_panel, self.inspector):
            widget.setParent(None)
            widget.deleteLater()
        self.session.close()

    def _scene_ids(self) -> list[int]:
        return [scene.id for scene in self.store.scenes.list()]

    def _render_from_inspector(self, scene_ids: list[int], reroll: bool) -> None:
        self.render(scene_ids, reroll=reroll)

    def _on_error(self, error: StoryboardError) -> None:
        self.messageRaised.emit(UserMessage.from_error(error))


def lora_rows(loras: Sequence[LoraRecord]) -> list[tuple[object, ...]]:
    """What the LoRA list says, without database ids."""
    return [(x.name, x.path, x.digest, x.scale, x.trigger, x.character) for x in loras]
