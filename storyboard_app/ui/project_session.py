"""ProjectSession: an open project on the UI thread, its undo history and its change signals.

Views read the story through the session's shared :class:`StoryRecords` (or the
store directly, for short reads of plain records) and change it only through
:meth:`ProjectSession.execute` with an undo command. A command applies
its edit to the database at once (there is no Save) and then says what it
changed; the session turns that into signals the models listen to.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from storyboard_app.project.change_watch import ProjectChanges
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.story_records import StoryRecords

if TYPE_CHECKING:
    from storyboard_app.ui.commands.base import StoreCommand


class TakeAliases:
    """Where a take went when undo restored it under a new id.

    Renders add takes without going through the undo stack, so an undone take
    delete can find its old id taken; commands resolve ids through here.
    """

    def __init__(self) -> None:
        self._aliases: dict[int, int] = {}

    def add(self, remap: dict[int, int]) -> None:
        self._aliases.update(remap)

    def resolve(self, take_id: int | None) -> int | None:
        seen: set[int] = set()
        while take_id in self._aliases and take_id not in seen:
            seen.add(take_id)
            take_id = self._aliases[take_id]
        return take_id


class ProjectSession(QObject):
    """Owns the UI thread's :class:`ProjectStore` and the project's :class:`QUndoStack`."""

    charactersChanged = Signal()
    scenesChanged = Signal()  # panels added, removed or reordered: views read them all again
    sceneChanged = Signal(int)  # one panel's fields, takes or active take: one row changes
    settingsChanged = Signal()
    broadcastStarting = Signal(object)  # ProjectChanges: what the views are about to read again
    errorRaised = Signal(object)  # StoryboardError
    errorResolved = Signal(object)  # a StoryboardError that a later edit of the same thing fixed

    def __init__(self, store: ProjectStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.records = StoryRecords(store)  # what the views show, read once per change
        self.undo_stack = QUndoStack(self)
        self.take_aliases = TakeAliases()
        self._refused: list[tuple[object, StoryboardError]] = []

    @property
    def folder(self) -> Path:
        return self.store.folder

    def execute(self, command: StoreCommand) -> bool:
        """Apply ``command`` now and put it on the undo stack; a refused edit is reported."""
        key = command.condition_key()
        try:
            command.apply()
        except StoryboardError as exc:
            self._refused.append((key, exc))
            self.report(exc)
            return False
        self.resolve(key)
        self.undo_stack.push(command)
        return True

    def resolve(self, key: object) -> None:
        """An edit went through (or was taken back): the refusals of the same edit no longer
        hold, so their messages go."""
        resolved = [error for refused, error in self._refused if refused == key]
        self._refused = [(refused, error) for refused, error in self._refused if refused != key]
        for error in resolved:
            self.errorResolved.emit(error)

    def report(self, error: StoryboardError) -> None:
        self.errorRaised.emit(error)

    def history_failed(self, error: StoryboardError) -> None:
        """An undo or redo could not be applied: report it and drop the history.

        The stack no longer matches the database, so keeping it would let later
        undos change things the artist cannot see. Cleared on the next turn of
        the event loop, because the stack is still inside the failed call.
        """
        self.report(error)
        QTimer.singleShot(0, self.undo_stack.clear)
        self.changed(characters=True, scenes=True, settings=True)

    def changed(
        self,
        *,
        characters: bool = False,
        scenes: bool = False,
        scene_ids: Iterable[int] = (),
        settings: bool = False,
    ) -> None:
        """Tell the views what changed; the narrower, the cheaper their refresh.

        The shared records are brought up to date after the watcher's look (it reads
        first, see :class:`ProjectWatcher`) and before any view reads them.
        """
        scene_ids = () if scenes else tuple(scene_ids)
        changes = ProjectChanges(settings, characters, scenes, scene_ids)
        self.broadcastStarting.emit(changes)
        self.records.update(changes)
        if characters:
            self.charactersChanged.emit()
        if scenes:
            self.scenesChanged.emit()
        else:
            for scene_id in scene_ids:
                self.sceneChanged.emit(scene_id)
        if settings:
            self.settingsChanged.emit()

    def reload_from_store(self) -> None:
        """Another program (or the engine thread) changed the project: every view reads it
        again, so what is shown, and the next edit made here, start from what is stored."""
        self.changed(characters=True, scenes=True, settings=True)

    def close(self) -> None:
        self.undo_stack.clear()
        self.store.close()
