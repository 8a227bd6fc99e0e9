"""ProjectWorkspace: everything that belongs to one open project, and the edits it offers.

The main window shows a workspace's widgets in its docks; opening another
project replaces the whole workspace, so no view ever outlives the project it
was built from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import LoraRecord
from storyboard_app.project.render_guard import check_prompts
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
    DuplicateScenesCommand,
    MoveScenesCommand,
)
from storyboard_app.ui.commands.takes import ImportImagesCommand, SetActiveTakeCommand
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.inspector import PanelInspector
from storyboard_app.ui.message_bar import UserMessage
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.project_watcher import ProjectWatcher
from storyboard_app.ui.render_controller import RenderController
from storyboard_app.ui.render_status import RenderStatusBook
from storyboard_app.ui.storyboard_model import StoryboardModel
from storyboard_app.ui.storyboard_view import StoryboardPane, StoryboardView
from storyboard_app.ui.take_compare import TakeComparison
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import JobOutcome, JobStatus


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
        self.storyboard_pane = StoryboardPane(self.storyboard)
        self.characters_panel = CharactersPanel(self.session, self.characters)
        self.inspector = PanelInspector(self.session, self.characters, self.thumbnails, self.status)
        self.renders = RenderController(self.session, host, app_settings, self)
        self.watcher = ProjectWatcher(self.session, parent=self)
        self.storyboard.currentSceneChanged.connect(self.inspector.show_scene)
        self.storyboard.moveRequested.connect(self.move_panels)
        self.inspector.renderRequested.connect(self._render_from_inspector)
        self.inspector.takes.compareRequested.connect(self.compare_takes)
        self.comparison: TakeComparison | None = None
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

    def add_panel(self, prompt: str = "") -> int | None:
        """Add a panel after the current one (at the end when none is current).

        A new panel's Action is empty, with a hint in its place, and the cursor
        goes there: the artist describes the panel before anything renders it.
        """
        current = self.storyboard.current_scene_id()
        position = None
        if current is not None:
            position = self.store.scenes.get(current).position + 1
        command = AddSceneCommand(self.session, prompt, position, allow_empty_prompt=True)
        if not self.session.execute(command) or command.scene_id is None:
            return None
        self.storyboard.select_scenes([command.scene_id])
        self.inspector.focus_prompt()
        return command.scene_id

    def duplicate_selected(self) -> list[int]:
        """Copy the selected panels right after the last of them; the copies are selected."""
        ids = self.selected_scene_ids()
        if not ids:
            return []
        command = DuplicateScenesCommand(self.session, ids)
        if not self.session.execute(command):
            return []
        self.storyboard.select_scenes(command.new_scene_ids)
        return command.new_scene_ids

    def move_selected(self, step: int) -> None:
        """Move the selected panels one place left (``step`` -1) or right (+1), as a block."""
        ids = self.selected_scene_ids()
        rows = [row for row in map(self.storyboard_model.row_of, ids) if row is not None]
        if not rows:
            return
        target = min(rows) - 1 if step < 0 else max(rows) + 2
        if 0 <= target <= self.storyboard_model.rowCount():
            self.move_panels(ids, target)

    def delete_selected(self) -> None:
        """Delete the selected panels; the panel after them (else before) becomes current."""
        ids = self.selected_scene_ids()
        if not ids:
            return
        order = self.storyboard_model.scene_ids()
        rows = [order.index(scene_id) for scene_id in ids if scene_id in order]
        after = [i for i in order[max(rows) + 1 :] if i not in ids] if rows else []
        before = [i for i in order[: min(rows)] if i not in ids] if rows else []
        following = after[0] if after else (before[-1] if before else None)
        if self.session.execute(DeleteScenesCommand(self.session, ids)) and following:
            self.storyboard.select_scenes([following])

    def move_panels(self, scene_ids: Sequence[int], row: int) -> None:
        command = MoveScenesCommand(self.session, scene_ids, row)
        if command.changes_order() and self.session.execute(command):
            self.storyboard.select_scenes(list(scene_ids))

    def render_selected(self, *, reroll: bool = False) -> asyncio.Task[JobOutcome] | None:
        ids = self.selected_scene_ids()
        return self.render(ids, reroll=reroll) if ids else None

    def render_all(self) -> asyncio.Task[JobOutcome] | None:
        """Render the panels that need it: no picture yet (or its file is gone), or stale.

        Panels with no Action text are left out and named; None when nothing needs
        rendering (Re-render Every Panel renders them all again).
        """
        model = self.storyboard_model
        blank = set(model.blank_scene_ids())
        wanted = [scene_id for scene_id in model.unfinished_scene_ids() if scene_id not in blank]
        if blank:
            self.statusMessage.emit(f"Left out (no action yet): {self._panel_numbers(blank)}.")
        if not wanted:
            if not blank:
                self.statusMessage.emit(
                    "Every panel's picture is up to date: nothing to render. "
                    "Re-render Every Panel renders them all again."
                )
            return None
        every = wanted == model.scene_ids()
        return self.render(None if every else wanted)

    def rerender_all(self, *, keep_picked: bool = True) -> asyncio.Task[JobOutcome] | None:
        """Render every panel again; with ``keep_picked`` a take picked by hand stays active
        (the new take is added beside it)."""
        model = self.storyboard_model
        blank = set(model.blank_scene_ids())
        wanted = [scene_id for scene_id in model.scene_ids() if scene_id not in blank]
        if blank:
            self.statusMessage.emit(f"Left out (no action yet): {self._panel_numbers(blank)}.")
        if not wanted:
            return None
        return self.render(None if not blank else wanted, keep_picked=keep_picked)

    def picked_count(self) -> int:
        """How many panels show a take the artist picked by hand (Re-render asks about them)."""
        model = self.storyboard_model
        return sum(1 for row in model.panels_of(set(model.scene_ids())) if row.scene.take_picked)

    def _panel_numbers(self, scene_ids: set[int]) -> str:
        """ "panel 3" or "panels 3, 5": how a list of panels reads in a message."""
        numbers = [str(row.scene.number) for row in self.storyboard_model.panels_of(scene_ids)]
        return ("panel " if len(numbers) == 1 else "panels ") + ", ".join(numbers)

    def render_stale(self) -> asyncio.Task[JobOutcome] | None:
        """Render exactly the panels whose picture is out of date; None when none is."""
        ids = self.storyboard_model.stale_scene_ids()
        if not ids:
            self.statusMessage.emit("No panel is stale: every picture matches its panel.")
            return None
        return self.render(ids)

    def render(
        self, scene_ids: Sequence[int] | None, *, reroll: bool = False, keep_picked: bool = False
    ) -> asyncio.Task[JobOutcome] | None:
        """Queue a render now; the task ends with its outcome, once the panels are stored.

        None when it cannot start (no model configured, or a panel to render has no
        Action text: the window says why).
        """
        if not self._check_prompts(scene_ids):
            return None
        job = self.renders.submit(scene_ids, reroll=reroll, keep_picked=keep_picked)
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

    def compare_takes(self, start_take_id: int | None = None) -> TakeComparison | None:
        """Show the current panel's takes side by side (from ``start_take_id``, else the
        active one); None when the panel has fewer than two takes to compare."""
        scene_id = self.storyboard.current_scene_id()
        row = self.storyboard_model.row_of(scene_id) if scene_id is not None else None
        if scene_id is None or row is None or self.storyboard_model.panel(row).scene.take_count < 2:
            self.statusMessage.emit("Compare needs a panel with two takes or more: reroll it.")
            return None
        if self.comparison is not None:
            self.comparison.close()
        dialog = TakeComparison(self.session, scene_id, start_take_id, self.storyboard.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.activateRequested.connect(
            lambda take_id: self.session.execute(
                SetActiveTakeCommand(self.session, scene_id, take_id)
            )
        )
        dialog.finished.connect(lambda _result: self._forget_comparison(dialog))
        self.comparison = dialog
        dialog.show()
        return dialog

    def _forget_comparison(self, dialog: TakeComparison) -> None:
        if self.comparison is dialog:
            self.comparison = None

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
        if self.comparison is not None:
            self.comparison.close()
        self.watcher.close()
        if cancel_jobs:
            self.renders.cancel_all()
        self.thumbnails.close()
        self.storyboard_model.close()
        for widget in (self.storyboard_pane, self.characters_panel, self.inspector):
            widget.setParent(None)
            widget.deleteLater()
        self.session.close()

    def _scene_ids(self) -> list[int]:
        """Every panel, as the views show them (a render of all panels is queued)."""
        return self.session.records.scene_ids()

    def _check_prompts(self, scene_ids: Sequence[int] | None) -> bool:
        """Refuse, with the fix, to render a panel that has no Action text yet."""
        model = self.storyboard_model
        wanted = set(scene_ids) if scene_ids is not None else set(model.scene_ids())
        try:
            check_prompts(row.scene for row in model.panels_of(wanted))
        except StoryboardError as error:
            self._on_error(error)
            return False
        return True

    def _render_from_inspector(self, scene_ids: list[int], reroll: bool) -> None:
        self.render(scene_ids, reroll=reroll)

    def _on_error(self, error: StoryboardError) -> None:
        self.messageRaised.emit(UserMessage.from_error(error))


def lora_rows(loras: Sequence[LoraRecord]) -> list[tuple[object, ...]]:
    """What the LoRA list says, without database ids."""
    return [(x.name, x.path, x.digest, x.scale, x.trigger, x.character) for x in loras]
