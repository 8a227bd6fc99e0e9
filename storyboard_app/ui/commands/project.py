"""Project-wide edits: render settings, and importing a story script."""

from __future__ import annotations

from collections.abc import Sequence

from storyboard_app.project.records import CharacterRecord, LoraRecord
from storyboard_app.project.scripts.model import StoryScript
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.story import import_story
from storyboard_app.project.undo_support import (
    CharacterSnapshot,
    SceneSnapshot,
    restore_character,
    restore_scene,
    snapshot_character,
    snapshot_scene,
)
from storyboard_app.ui.commands.base import CompositeCommand, StoreCommand
from storyboard_app.ui.project_session import ProjectSession


class ChangeSettingsCommand(StoreCommand):
    def __init__(self, session: ProjectSession, settings: ProjectSettings) -> None:
        super().__init__(session, "Change render settings")
        self._new = settings
        self._old: ProjectSettings | None = None

    def do(self) -> None:
        self._old = self.store.settings()
        self.store.update_settings(self._new)
        self.session.changed(settings=True, scenes=True)

    def revert(self) -> None:
        assert self._old is not None
        self.store.update_settings(self._old)
        self.session.changed(settings=True, scenes=True)


class ChangeLorasCommand(StoreCommand):
    """The project's LoRA list as edited in the settings dialog, as one undo step."""

    def __init__(self, session: ProjectSession, loras: Sequence[LoraRecord]) -> None:
        super().__init__(session, "Change LoRAs")
        self._new = tuple(loras)
        self._old: list[LoraRecord] | None = None

    def do(self) -> None:
        self._old = self.store.loras.list()
        self.store.loras.replace(self._new)
        self.session.changed(settings=True, scenes=True)

    def revert(self) -> None:
        assert self._old is not None
        self.store.loras.replace(self._old)
        self.session.changed(settings=True, scenes=True)


class ImportStoryCommand(StoreCommand):
    """Append a script's characters and panels (and apply its settings) as one undo step."""

    def __init__(self, session: ProjectSession, script: StoryScript) -> None:
        super().__init__(session, f"Import story {script.title or ''}".strip())
        self._script = script
        self._old_settings: ProjectSettings | None = None
        self._new_settings: ProjectSettings | None = None
        self._character_ids: list[int] = []
        self._scene_ids: list[int] = []
        self._characters: list[CharacterSnapshot] = []
        self._scenes: list[SceneSnapshot] = []

    def do(self) -> None:
        if self._new_settings is None:
            self._first_import()
        else:
            self._restore()
        self.session.changed(characters=True, scenes=True, settings=True)

    def revert(self) -> None:
        assert self._old_settings is not None
        self._scenes = []
        for scene_id in reversed(self._scene_ids):
            self._scenes.append(snapshot_scene(self.store, scene_id))
            self.store.scenes.delete(scene_id)
        self._characters = []
        for character_id in reversed(self._character_ids):
            self._characters.append(snapshot_character(self.store, character_id))
            self.store.characters.delete(character_id)
        self.store.update_settings(self._old_settings)
        self.session.changed(characters=True, scenes=True, settings=True)

    def _first_import(self) -> None:
        self._old_settings = self.store.settings()
        characters_before = _ids(self.store.characters.list())
        scenes_before = {scene.id for scene in self.store.scenes.list()}
        import_story(self.store, self._script)
        self._new_settings = self.store.settings()
        self._character_ids = [
            c.id for c in self.store.characters.list() if c.id not in characters_before
        ]
        self._scene_ids = [s.id for s in self.store.scenes.list() if s.id not in scenes_before]

    def _restore(self) -> None:
        assert self._new_settings is not None
        for snapshot in reversed(self._characters):
            restore_character(self.store, snapshot)
        for scene_snapshot in reversed(self._scenes):
            restore_scene(self.store, scene_snapshot)
        self.store.update_settings(self._new_settings)


def _ids(records: list[CharacterRecord]) -> set[int]:
    return {record.id for record in records}


class RenameProjectCommand(StoreCommand):
    """The project's title (its name in the database; the folder keeps its name)."""

    def __init__(self, session: ProjectSession, title: str) -> None:
        super().__init__(session, "Rename project")
        self._new = title
        self._old: str | None = None

    def do(self) -> None:
        self._old = self.store.name
        self.store.rename(self._new)
        self.session.changed(settings=True)

    def revert(self) -> None:
        assert self._old is not None
        self.store.rename(self._old)
        self.session.changed(settings=True)


class SettingsDialogEdit(CompositeCommand):
    """What one Settings dialog changed (title, render settings, LoRAs): one undo step."""

    def __init__(self, session: ProjectSession, parts: Sequence[StoreCommand]) -> None:
        super().__init__(session, "Change settings")
        self.parts = list(parts)


def settings_edit(
    session: ProjectSession,
    title: str,
    settings: ProjectSettings,
    loras: Sequence[LoraRecord],
) -> StoreCommand | None:
    """The edit that makes the project what the dialog shows, or None when nothing changed;
    a single change keeps its own name in the undo history ("Change LoRAs")."""
    store = session.store
    parts: list[StoreCommand] = []
    if title.strip() and title.strip() != store.name:
        parts.append(RenameProjectCommand(session, title.strip()))
    if settings != store.settings():
        parts.append(ChangeSettingsCommand(session, settings))
    if _lora_rows(loras) != _lora_rows(store.loras.list()):
        parts.append(ChangeLorasCommand(session, loras))
    if len(parts) <= 1:
        return parts[0] if parts else None
    return SettingsDialogEdit(session, parts)


def _lora_rows(loras: Sequence[LoraRecord]) -> list[tuple[object, ...]]:
    """What a LoRA list says, without database ids."""
    return [(x.name, x.path, x.digest, x.scale, x.trigger, x.character) for x in loras]
