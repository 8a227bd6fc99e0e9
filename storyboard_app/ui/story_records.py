"""StoryRecords: the story as last read, shared by every view of the open project.

At a thousand panels each whole-story read costs about a tenth of a second on
the UI thread, and the storyboard, the characters' portraits and the timeline
each read the whole story after every structural change (a panel added,
removed or moved). They read it here instead: the session drops what a change
makes out of date, and the first view to ask reads it again, once for all of
them. A change to one panel re-reads that panel and its takes, once, before the
views are told, so none of them reads the story for it.

Only the views' refreshes after a change read through here; commands read the
store itself, since they must see what is stored now. The reads here begin
deferred (:meth:`ProjectStore.reading`): a refresh never waits for the engine
thread's write of the next take.
"""

from __future__ import annotations

from storyboard_app.project.change_watch import ProjectChanges
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import CharacterRecord, LoraRecord, SceneRecord, TakeRecord
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.staleness import StaleReason, stale_reasons
from storyboard_app.project.store import ProjectStore


class StoryRecords:
    """The panels (in story order), their takes, the cast, the LoRAs and the settings."""

    def __init__(self, store: ProjectStore) -> None:
        self._store = store
        self._scenes: list[SceneRecord] | None = None
        self._rows: dict[int, int] = {}
        self._takes: dict[int, list[TakeRecord]] | None = None
        self._characters: list[CharacterRecord] | None = None
        self._loras: list[LoraRecord] | None = None
        self._settings: ProjectSettings | None = None

    def scenes(self) -> list[SceneRecord]:
        """Every panel in story order (a new list: the caller may keep it)."""
        return list(self._scene_list())

    def scene_ids(self) -> list[int]:
        return [scene.id for scene in self._scene_list()]

    def scene(self, scene_id: int) -> SceneRecord | None:
        """The panel as last read; None when it is not in the story."""
        scenes = self._scene_list()
        row = self._rows.get(scene_id)
        return None if row is None else scenes[row]

    def takes(self, scene_id: int) -> list[TakeRecord]:
        """The panel's takes, oldest first."""
        return list(self._take_lists().get(scene_id, ()))

    def takes_by_scene(self) -> dict[int, list[TakeRecord]]:
        return {scene_id: list(takes) for scene_id, takes in self._take_lists().items()}

    def active_media(self, scene: SceneRecord) -> str | None:
        """The media of the panel's active take, or None without one."""
        if scene.active_take_id is None:
            return None
        takes = self._take_lists().get(scene.id, ())
        return next((take.media for take in takes if take.id == scene.active_take_id), None)

    def stale_reasons(self, scene: SceneRecord) -> list[StaleReason]:
        """Why the panel's active take is out of date (as :func:`panel_stale_reasons` reads
        it from the store)."""
        takes = self._take_lists().get(scene.id, ())
        take = next((t for t in takes if t.id == scene.active_take_id), None)
        if take is None:
            return []
        characters = {c.name: c for c in self.characters()}
        seeds = {t.params.seed for t in takes if t.params.source == "rendered"}
        return stale_reasons(take, scene, characters, self.settings(), seeds, self.loras())

    def characters(self) -> list[CharacterRecord]:
        if self._characters is None:
            with self._store.reading():
                self._characters = self._store.characters.list()
        return list(self._characters)

    def loras(self) -> list[LoraRecord]:
        if self._loras is None:
            with self._store.reading():
                self._loras = self._store.loras.list()
        return list(self._loras)

    def settings(self) -> ProjectSettings:
        if self._settings is None:
            with self._store.reading():
                self._settings = self._store.settings()
        return self._settings

    def forget(self) -> None:
        """Read everything again when next asked: the project changed without a signal (a
        view told to read the store again)."""
        self.update(ProjectChanges(settings=True, characters=True, scenes=True))

    def update(self, changes: ProjectChanges) -> None:
        """Forget what ``changes`` made out of date; re-read the panels it names now.

        Characters change the panels too (a renamed character renames their cast).
        """
        if changes.scenes or changes.characters:
            self._scenes, self._takes = None, None
        if changes.characters or changes.settings:
            self._characters, self._loras = None, None
        if changes.settings:
            self._settings = None
        if not changes.scenes:
            self._refresh(changes.scene_ids)

    def _refresh(self, scene_ids: tuple[int, ...]) -> None:
        """Re-read one panel at a time; one gone (or unreadable) drops the story, which the
        next view to ask reads again."""
        if self._scenes is None:
            return
        try:
            with self._store.reading():
                for scene_id in scene_ids:
                    row = self._rows.get(scene_id)
                    if row is None:
                        continue
                    if self._takes is None:
                        self._scenes[row] = self._store.scenes.get(scene_id)
                    else:
                        self._scenes[row], self._takes[scene_id] = self._store.takes.with_scene(
                            scene_id
                        )
        except StoryboardError:
            self._scenes, self._takes = None, None

    def _scene_list(self) -> list[SceneRecord]:
        if self._scenes is None:
            with self._store.reading():
                self._scenes = self._store.scenes.list()
            self._rows = {scene.id: row for row, scene in enumerate(self._scenes)}
        return self._scenes

    def _take_lists(self) -> dict[int, list[TakeRecord]]:
        self._scene_list()
        if self._takes is None:
            with self._store.reading():
                self._takes = self._store.takes.by_scene()
        return self._takes
