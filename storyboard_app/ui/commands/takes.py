"""Take edits: pick the active take, delete a take, import pictures as takes.

A take is never overwritten: renders add takes outside the undo history, and
these commands only choose between takes, delete one on purpose (undo puts it
back, image and settings), or add imported pictures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from storyboard_app.project.records import TakeRecord
from storyboard_app.project.undo_support import restore_take
from storyboard_app.ui.commands.base import CompositeCommand, StoreCommand
from storyboard_app.ui.commands.scenes import AddSceneCommand
from storyboard_app.ui.project_session import ProjectSession


class SetActiveTakeCommand(StoreCommand):
    """The artist picks a take by hand: recorded as picked, so Re-render All keeps it.

    A rendered take's seed becomes the panel's seed, so the seed field shows the
    seed of the picture on screen and Render reproduces it.
    """

    def __init__(self, session: ProjectSession, scene_id: int, take_id: int | None) -> None:
        super().__init__(session, "Choose take")
        self._scene_id = scene_id
        self._take_id = take_id
        self._previous: int | None = None
        self._previous_picked = False
        self._previous_seed = 0

    def do(self) -> None:
        scene = self.store.scenes.get(self._scene_id)
        self._previous, self._previous_picked = scene.active_take_id, scene.take_picked
        self._previous_seed = scene.seed
        take_id = self.session.take_aliases.resolve(self._take_id)
        self.store.takes.set_active(self._scene_id, take_id, picked=True)
        if take_id is not None:
            take = self.store.takes.get(take_id)
            if take.params.source == "rendered" and take.params.seed != scene.seed:
                self.store.scenes.update(self._scene_id, seed=take.params.seed)
        self.session.changed(scene_ids=[self._scene_id])

    def revert(self) -> None:
        self.store.takes.set_active(
            self._scene_id,
            self.session.take_aliases.resolve(self._previous),
            picked=self._previous_picked,
        )
        if self.store.scenes.get(self._scene_id).seed != self._previous_seed:
            self.store.scenes.update(self._scene_id, seed=self._previous_seed)
        self.session.changed(scene_ids=[self._scene_id])


class DeleteTakeCommand(StoreCommand):
    def __init__(self, session: ProjectSession, take_id: int) -> None:
        super().__init__(session, "Delete take")
        self._take_id = take_id
        self._record: TakeRecord | None = None
        self._was_active = False
        self._was_picked = False

    def do(self) -> None:
        take_id = self.session.take_aliases.resolve(self._take_id)
        assert take_id is not None
        self._record = self.store.takes.get(take_id)
        scene = self.store.scenes.get(self._record.scene_id)
        self._was_active = scene.active_take_id == take_id
        self._was_picked = self._was_active and scene.take_picked
        self.store.takes.delete(take_id)
        self.session.changed(scene_ids=[self._record.scene_id])

    def revert(self) -> None:
        assert self._record is not None
        restored = restore_take(
            self.store, self._record, make_active=self._was_active, picked=self._was_picked
        )
        if restored != self._record.id:
            self.session.take_aliases.add({self._record.id: restored})
        self.session.changed(scene_ids=[self._record.scene_id])


class ImportImageCommand(StoreCommand):
    """One picture as a new active take of one panel."""

    def __init__(self, session: ProjectSession, scene_id: int | None, path: Path) -> None:
        super().__init__(session, f"Import {path.name}")
        self.scene_id = scene_id
        self._path = path
        self._record: TakeRecord | None = None
        self._previous: int | None = None
        self._previous_picked = False

    def do(self) -> None:
        assert self.scene_id is not None
        scene = self.store.scenes.get(self.scene_id)
        self._previous, self._previous_picked = scene.active_take_id, scene.take_picked
        if self._record is None:
            self._record = self.store.takes.import_image(self.scene_id, self._path)
        else:
            take_id = restore_take(self.store, self._record, make_active=True, picked=True)
            if take_id != self._record.id:
                self.session.take_aliases.add({self._record.id: take_id})
        self.session.changed(scene_ids=[self.scene_id])

    def revert(self) -> None:
        assert self._record is not None and self.scene_id is not None
        self.store.takes.delete(self.session.take_aliases.resolve(self._record.id) or 0)
        self.store.takes.set_active(
            self.scene_id,
            self.session.take_aliases.resolve(self._previous),
            picked=self._previous_picked,
        )
        self.session.changed(scene_ids=[self.scene_id])


class ImportImagesCommand(CompositeCommand):
    """Pictures into panels in story order from ``first_scene_id``; new panels for the rest."""

    def __init__(
        self, session: ProjectSession, first_scene_id: int | None, paths: Sequence[Path]
    ) -> None:
        count = len(paths)
        super().__init__(session, f"Import {count} image{'s' if count != 1 else ''}")
        self._first = first_scene_id
        self._paths = list(paths)

    def plan(self) -> Iterator[StoreCommand]:
        if self.parts:
            yield from list(self.parts)
            return
        targets = self._target_scenes()
        for index, path in enumerate(self._paths):
            scene_id = targets[index] if index < len(targets) else None
            if scene_id is None:
                add = AddSceneCommand(self.session, f"[NC] {path.stem}")
                self.parts.append(add)
                yield add
                scene_id = add.scene_id
            image = ImportImageCommand(self.session, scene_id, path)
            self.parts.append(image)
            yield image

    def _target_scenes(self) -> list[int]:
        ids = [scene.id for scene in self.store.scenes.list()]
        if self._first is None:
            return []
        return ids[ids.index(self._first) :] if self._first in ids else []
