"""The base of every edit: applied once before it goes on the stack, then undone and redone.

Applying before pushing means a refused edit (an empty prompt, a read-only
project) raises before anything reaches the history. ``QUndoStack.push`` calls
``redo`` at once; that first call is skipped because the edit is already done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtGui import QUndoCommand

from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.project_session import ProjectSession


class StoreCommand(QUndoCommand):
    """One reversible edit. Subclasses implement :meth:`do` and :meth:`revert`."""

    def __init__(self, session: ProjectSession, text: str) -> None:
        super().__init__(text)
        self.session = session
        self.store = session.store
        self._skip_redo = False

    def apply(self) -> None:
        """The first application, before the push; raises StoryboardError if refused."""
        self.do()
        self._skip_redo = True

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._guarded(self.do)

    def undo(self) -> None:
        self._guarded(self.revert)

    def condition_key(self) -> object:
        """What this edit changes: a later edit with the same key that succeeds fixes
        whatever refused this one, so the refusal's message goes away."""
        return type(self).__name__

    def do(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement do()")

    def revert(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement revert()")

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except StoryboardError as exc:
            self.session.history_failed(exc)


class CompositeCommand(StoreCommand):
    """Several edits as one undo step; a failure part-way reverts the parts already done."""

    def __init__(self, session: ProjectSession, text: str) -> None:
        super().__init__(session, text)
        self.parts: list[StoreCommand] = []

    def do(self) -> None:
        done: list[StoreCommand] = []
        try:
            for part in self.plan():
                part.do()
                done.append(part)
        except StoryboardError:
            for part in reversed(done):
                part.revert()
            raise

    def revert(self) -> None:
        for part in reversed(self.parts):
            part.revert()

    def plan(self) -> Iterable[StoreCommand]:
        """The parts to apply, in order; a generator may create them while the first run goes."""
        return list(self.parts)
