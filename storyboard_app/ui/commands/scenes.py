"""Panel edits: add, duplicate, change fields, reorder (drag, Ctrl+arrows) and delete."""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from storyboard_app.project.records import SceneRecord, TransitionRecord
from storyboard_app.project.scenes import add_scene
from storyboard_app.project.undo_support import (
    SceneSnapshot,
    reorder_scenes,
    restore_scene,
    restore_transitions,
    snapshot_scene,
    snapshot_transitions,
)
from storyboard_app.ui.commands.base import CompositeCommand, StoreCommand
from storyboard_app.ui.project_session import ProjectSession

EDIT_SCENE_ID = 1001
# Typing pauses shorter than this merge into one undo step.
MERGE_WINDOW_S = 3.0


class AddSceneCommand(StoreCommand):
    def __init__(
        self, session: ProjectSession, prompt: str, position: int | None = None, **fields: Any
    ) -> None:
        super().__init__(session, "Add panel")
        self._prompt = prompt
        self._position = position
        self._fields = fields
        self.scene_id: int | None = None
        self._snapshot: SceneSnapshot | None = None
        self._transitions: tuple[TransitionRecord, ...] = ()

    def do(self) -> None:
        if self._snapshot is None:
            self._transitions = snapshot_transitions(self.store)
            record = self.store.scenes.add(self._prompt, position=self._position, **self._fields)
            self.scene_id = record.id
        else:
            self.session.take_aliases.add(restore_scene(self.store, self._snapshot))
        self.session.changed(scenes=True)

    def revert(self) -> None:
        assert self.scene_id is not None
        self._snapshot = snapshot_scene(self.store, self.scene_id)
        self.store.scenes.delete(self.scene_id)
        # An insertion moved the cut or crossfade it split onto the new panel: put it back.
        restore_transitions(self.store, self._transitions)
        self.session.changed(scenes=True)


class EditSceneCommand(StoreCommand):
    """Change fields of a panel. A prompt change also restores the panel's characters on undo,
    because tags typed into the prompt add characters to it."""

    def __init__(self, session: ProjectSession, scene_id: int, **changes: Any) -> None:
        super().__init__(session, f"Edit panel ({', '.join(sorted(changes))})")
        self.scene_id = scene_id
        self._changes = changes
        self._before: SceneRecord | None = None
        self._after: SceneRecord | None = None
        self._created = time.monotonic()

    @staticmethod
    def key_for(scene_id: int, fields: Iterable[str]) -> object:
        return ("edit-panel", scene_id, frozenset(fields))

    def condition_key(self) -> object:
        return self.key_for(self.scene_id, self._changes)

    def do(self) -> None:
        before, self._after = self.store.scenes.edit(self.scene_id, **self._changes)
        if self._before is None:
            self._before = before
        self.session.changed(scene_ids=[self.scene_id])

    def revert(self) -> None:
        assert self._before is not None
        # Undo may put back a new panel's empty Action: it was the panel's state.
        values = self._values(self._before)
        self.store.scenes.update(self.scene_id, allow_empty_prompt=True, **values)
        self.session.changed(scene_ids=[self.scene_id])

    def _values(self, record: SceneRecord) -> dict[str, Any]:
        fields = set(self._changes)
        if fields & {"prompt", "characters"}:
            fields |= {"prompt", "characters"}
        values = {field: getattr(record, field) for field in fields - {"characters"}}
        if "characters" in fields:
            values["characters"] = list(record.character_names)
        return values

    def id(self) -> int:
        return EDIT_SCENE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Typing in one field of one panel is one undo step, until a pause or another field."""
        if not isinstance(other, EditSceneCommand) or other.scene_id != self.scene_id:
            return False
        if set(other._changes) != set(self._changes):
            return False
        if other._created - self._created > MERGE_WINDOW_S:
            return False
        self._changes = other._changes
        self._created = other._created
        self._after = other._after
        if self._is_no_change():
            # Typing and then undoing it inside the field: no empty step is left behind.
            self.setObsolete(True)
        return True

    def _is_no_change(self) -> bool:
        """The panel as the last merged edit left it (read in that edit's transaction) is
        the panel as it was before the first."""
        if self._before is None or self._after is None:
            return False
        return self._values(self._after) == self._values(self._before)


class DuplicateScenesCommand(CompositeCommand):
    """Copies of panels (every field, not the takes) as a block right after the last one."""

    def __init__(self, session: ProjectSession, scene_ids: Sequence[int]) -> None:
        count = len(scene_ids)
        super().__init__(session, f"Duplicate {count} panel{'s' if count != 1 else ''}")
        self._ids = list(scene_ids)

    @property
    def new_scene_ids(self) -> list[int]:
        added = [part for part in self.parts if isinstance(part, AddSceneCommand)]
        return [part.scene_id for part in added if part.scene_id is not None]

    def plan(self) -> Iterator[StoreCommand]:
        if self.parts:
            yield from list(self.parts)
            return
        originals = sorted((self.store.scenes.get(i) for i in self._ids), key=lambda s: s.position)
        after = originals[-1].position + 1 if originals else None
        for offset, scene in enumerate(originals):
            assert after is not None
            copy = AddSceneCommand(
                self.session, scene.prompt, after + offset, **copied_fields(scene)
            )
            self.parts.append(copy)
            yield copy


def copied_fields(scene: SceneRecord) -> dict[str, Any]:
    """What a duplicate takes over from ``scene``: every field a new panel can be given."""
    accepted = set(inspect.signature(add_scene).parameters) - {"session", "prompt", "position"}
    values = {f.name: getattr(scene, f.name) for f in dataclasses.fields(scene)}
    values["characters"] = list(scene.character_names)
    fields = {name: value for name, value in values.items() if name in accepted}
    fields["allow_empty_prompt"] = True  # a new panel not yet described is copied as it is
    return fields


class DeleteScenesCommand(StoreCommand):
    def __init__(self, session: ProjectSession, scene_ids: Sequence[int]) -> None:
        count = len(scene_ids)
        super().__init__(session, f"Delete {count} panel{'s' if count != 1 else ''}")
        self._ids = list(scene_ids)
        self._snapshots: list[SceneSnapshot] = []

    def do(self) -> None:
        """Delete from the last panel backwards, so each snapshot's position stays right."""
        scenes = sorted(
            (self.store.scenes.get(i) for i in self._ids), key=lambda s: s.position, reverse=True
        )
        self._snapshots = []
        for scene in scenes:
            self._snapshots.append(snapshot_scene(self.store, scene.id))
            self.store.scenes.delete(scene.id)
        self.session.changed(scenes=True)

    def revert(self) -> None:
        for snapshot in reversed(self._snapshots):
            self.session.take_aliases.add(restore_scene(self.store, snapshot))
        self.session.changed(scenes=True)


class MoveScenesCommand(StoreCommand):
    """Move panels (in their current order) so that they start at ``row`` of the old order."""

    def __init__(self, session: ProjectSession, scene_ids: Sequence[int], row: int) -> None:
        count = len(scene_ids)
        super().__init__(session, f"Move {count} panel{'s' if count != 1 else ''}")
        self._moved = set(scene_ids)
        self._row = row
        self._old_order: list[int] = []
        self._transitions: tuple[TransitionRecord, ...] = ()

    def do(self) -> None:
        self._old_order = [scene.id for scene in self.store.scenes.list()]
        self._transitions = snapshot_transitions(self.store)
        reorder_scenes(self.store, moved_order(self._old_order, self._moved, self._row))
        self.session.changed(scenes=True)

    def revert(self) -> None:
        reorder_scenes(self.store, self._old_order)
        restore_transitions(self.store, self._transitions)
        self.session.changed(scenes=True)

    def changes_order(self) -> bool:
        order = [scene.id for scene in self.store.scenes.list()]
        return moved_order(order, self._moved, self._row) != order


def moved_order(order: Sequence[int], moved: set[int], row: int) -> list[int]:
    """``order`` with the ``moved`` ids taken out and put back, in order, before ``row``."""
    kept = [scene_id for scene_id in order if scene_id not in moved]
    block = [scene_id for scene_id in order if scene_id in moved]
    at = sum(1 for scene_id in order[: max(0, row)] if scene_id not in moved)
    return kept[:at] + block + kept[at:]
