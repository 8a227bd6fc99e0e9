"""Character edits: add, change, reorder and delete (undone with the panels it was in)."""

from __future__ import annotations

from typing import Any

from storyboard_app.project.records import CharacterRecord
from storyboard_app.project.tags import untag
from storyboard_app.project.undo_support import (
    CharacterSnapshot,
    restore_character,
    set_reference_media,
    snapshot_character,
)
from storyboard_app.ui.commands.base import StoreCommand
from storyboard_app.ui.project_session import ProjectSession


class AddCharacterCommand(StoreCommand):
    def __init__(self, session: ProjectSession, name: str, description: str, **fields: Any) -> None:
        super().__init__(session, f"Add character {name.strip()}")
        self._name = name
        self._description = description
        self._fields = fields
        self.character_id: int | None = None
        self._snapshot: CharacterSnapshot | None = None

    def do(self) -> None:
        if self._snapshot is None:
            record = self.store.characters.add(self._name, self._description, **self._fields)
            self.character_id = record.id
        else:
            restore_character(self.store, self._snapshot)
        self.session.changed(characters=True)

    def revert(self) -> None:
        assert self.character_id is not None
        self._snapshot = snapshot_character(self.store, self.character_id)
        self.store.characters.delete(self.character_id)
        self.session.changed(characters=True, scenes=True)


class EditCharacterCommand(StoreCommand):
    """Change fields of a character; ``reference_image`` takes a file path (or None)."""

    def __init__(self, session: ProjectSession, character_id: int, **changes: Any) -> None:
        super().__init__(session, f"Edit character ({', '.join(sorted(changes))})")
        self._id = character_id
        self._changes = changes
        self._before: CharacterRecord | None = None
        self._after: CharacterRecord | None = None

    def do(self) -> None:
        if self._after is None:
            self._before = self.store.characters.get(self._id)
            self._after = self.store.characters.update(self._id, **self._changes)
        else:
            self._write(self._after)
        self.session.changed(characters=True, scenes=True)

    def revert(self) -> None:
        assert self._before is not None
        self._write(self._before)
        self.session.changed(characters=True, scenes=True)

    def _write(self, record: CharacterRecord) -> None:
        """Set the changed fields to their values in ``record``."""
        values = {
            field: getattr(record, field) for field in self._changes if field != "reference_image"
        }
        if values:
            self.store.characters.update(self._id, **values)
        if "reference_image" in self._changes:
            set_reference_media(self.store, self._id, record.reference_media)


class DeleteCharacterCommand(StoreCommand):
    """Delete a character; with ``untag_panels`` its tags in prompts become plain names."""

    def __init__(
        self, session: ProjectSession, character_id: int, *, untag_panels: bool = False
    ) -> None:
        name = session.store.characters.get(character_id).name
        super().__init__(session, f"Delete character {name}")
        self._id = character_id
        self._name = name
        self._untag = untag_panels
        self._prompts: dict[int, str] = {}
        self._snapshot: CharacterSnapshot | None = None

    def do(self) -> None:
        """One transaction (the store's), so a failure leaves every prompt as it was."""
        self._snapshot = snapshot_character(self.store, self._id)
        self._prompts = (
            {
                scene.id: scene.prompt
                for scene in self.store.scenes.list()
                if untag(scene.prompt, self._name) != scene.prompt
            }
            if self._untag
            else {}
        )
        self.store.characters.delete(self._id, untag_panels=self._untag)
        self.session.changed(characters=True, scenes=True)

    def revert(self) -> None:
        assert self._snapshot is not None
        restore_character(self.store, self._snapshot)
        for scene_id, prompt in self._prompts.items():
            self.store.scenes.update(scene_id, prompt=prompt)
        self.session.changed(characters=True, scenes=True)


class MoveCharacterCommand(StoreCommand):
    def __init__(self, session: ProjectSession, character_id: int, position: int) -> None:
        super().__init__(session, "Reorder characters")
        self._id = character_id
        self._position = position
        self._old_position: int | None = None

    def do(self) -> None:
        self._old_position = self.store.characters.get(self._id).position
        self.store.characters.move(self._id, self._position)
        self.session.changed(characters=True, scenes=True)

    def revert(self) -> None:
        assert self._old_position is not None
        self.store.characters.move(self._id, self._old_position)
        self.session.changed(characters=True, scenes=True)
