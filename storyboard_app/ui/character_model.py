"""Characters for the dock and for a panel's cast list.

:class:`CharacterListModel` lists a project's characters with a thumbnail: the
reference picture, else the active take of the character's first solo panel,
else a tile in its colour with its initial. :class:`PanelCastModel` adds a
checkbox per character for the panel in the inspector; a character named by a
``[Name]`` tag in the prompt stays checked (remove the tag to remove it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractListModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPixmap

from storyboard_app.project.records import CharacterRecord, SceneRecord
from storyboard_app.project.tags import find_tags
from storyboard_app.ui.images import ThumbnailCache, placeholder
from storyboard_app.ui.project_session import ProjectSession

Index = QModelIndex | QPersistentModelIndex
ICON_SIZE = 48
# Portraits follow renders; reading them once after a burst of finished panels is enough.
PORTRAIT_DELAY_MS = 250


class CharacterRole(enum.IntEnum):
    CHARACTER_ID = Qt.ItemDataRole.UserRole + 1
    COLOR = enum.auto()


class Portraits:
    """The picture that stands for each character in the dock.

    Its reference picture, else the active take of its first rendered solo
    panel. The solo panels of each character are listed once per change of the
    story; after that a finished render only looks again at the characters whose
    solo panels it touched, so a burst of renders stays cheap on the UI thread.
    Everything is read from the session's shared records, never the store.
    """

    def __init__(self, session: ProjectSession) -> None:
        self._records = session.records
        self._characters: dict[int, CharacterRecord] = {}
        self._solo: dict[int, list[int]] = {}
        self._media: dict[int, str | None] = {}

    def rebuild(self, characters: list[CharacterRecord]) -> None:
        self._characters = {c.id: c for c in characters}
        by_name = {c.name: c.id for c in characters}
        self._solo = {c.id: [] for c in characters}
        for scene in self._records.scenes():
            if len(scene.character_names) == 1 and scene.character_names[0] in by_name:
                self._solo[by_name[scene.character_names[0]]].append(scene.id)
        self._media = {character_id: self._find(character_id) for character_id in self._solo}

    def media(self, character_id: int) -> str | None:
        return self._media.get(character_id)

    def scenes_changed(self, scene_ids: set[int]) -> list[int]:
        """Re-read the characters with a solo panel among ``scene_ids``; return those that moved."""
        changed = []
        for character_id, solo in self._solo.items():
            if scene_ids.intersection(solo):
                media = self._find(character_id)
                if media != self._media.get(character_id):
                    self._media[character_id] = media
                    changed.append(character_id)
        return changed

    def _find(self, character_id: int) -> str | None:
        character = self._characters[character_id]
        if character.reference_media:
            return character.reference_media
        for scene_id in self._solo.get(character_id, []):
            scene = self._records.scene(scene_id)
            media = self._records.active_media(scene) if scene is not None else None
            if media is not None:
                return media
        return None


class CharacterListModel(QAbstractListModel):
    def __init__(
        self, session: ProjectSession, thumbnails: ThumbnailCache, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._thumbnails = thumbnails
        self._rows: list[CharacterRecord] = []
        self._portraits = Portraits(session)
        self._touched: set[int] = set()
        self._portrait_timer = QTimer(self)
        self._portrait_timer.setSingleShot(True)
        self._portrait_timer.setInterval(PORTRAIT_DELAY_MS)
        self._portrait_timer.timeout.connect(self._refresh_touched_portraits)
        session.charactersChanged.connect(self._rebuild)
        session.scenesChanged.connect(self._rebuild_portraits)
        session.sceneChanged.connect(self._on_scene_changed)
        thumbnails.ready.connect(self._on_media)
        self._rebuild()

    def reload(self) -> None:
        """Read the characters from the store again."""
        self._session.records.forget()
        self._rebuild()

    def _rebuild(self) -> None:
        self.beginResetModel()
        self._rows = self._session.records.characters()
        self._portraits.rebuild(self._rows)
        self.endResetModel()

    def character(self, row: int) -> CharacterRecord:
        return self._rows[row]

    def row_of(self, character_id: int) -> int | None:
        return next((i for i, c in enumerate(self._rows) if c.id == character_id), None)

    def colors(self) -> dict[str, str]:
        return {c.name: c.color for c in self._rows}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        character = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return character.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return character.description
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(character)
        if role == CharacterRole.CHARACTER_ID:
            return character.id
        if role == CharacterRole.COLOR:
            return character.color
        return None

    def _thumbnail(self, character: CharacterRecord) -> QPixmap:
        media = self._portraits.media(character.id)
        pixmap = self._thumbnails.pixmap(media) if media else None
        if pixmap is None:
            return placeholder(ICON_SIZE, ICON_SIZE, character.color, character.name[:1].upper())
        return pixmap.scaled(
            ICON_SIZE,
            ICON_SIZE,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )

    def _rebuild_portraits(self) -> None:
        self._portraits.rebuild(self._rows)
        self._emit_rows(range(len(self._rows)))

    def _on_scene_changed(self, scene_id: int) -> None:
        self._touched.add(scene_id)
        self._portrait_timer.start()

    def _refresh_touched_portraits(self) -> None:
        touched, self._touched = self._touched, set()
        changed = set(self._portraits.scenes_changed(touched))
        self._emit_rows(row for row, c in enumerate(self._rows) if c.id in changed)

    def _on_media(self, media: str) -> None:
        rows = (row for row, c in enumerate(self._rows) if self._portraits.media(c.id) == media)
        self._emit_rows(rows)

    def _emit_rows(self, rows: Iterable[int]) -> None:
        for row in rows:
            self.dataChanged.emit(self.index(row), self.index(row))


class PanelCastModel(QIdentityProxyModel):
    """The characters with a checkbox each: is this character in the panel?"""

    castChanged = Signal(list)  # the names the panel should list

    def __init__(self, source: CharacterListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self._scene: SceneRecord | None = None

    def set_scene(self, scene: SceneRecord | None) -> None:
        self._scene = scene
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.CheckStateRole and index.isValid():
            return Qt.CheckState.Checked if self._in_panel(index) else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole and self._tagged(index):
            return "Named in the prompt: remove the [tag] to take this character out."
        return super().data(index, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self._scene is None or self._tagged(index):
            return flags & ~Qt.ItemFlag.ItemIsEnabled
        return flags | Qt.ItemFlag.ItemIsUserCheckable

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or self._scene is None:
            return super().setData(index, value, role)
        name = index.data(Qt.ItemDataRole.DisplayRole)
        names = [n for n in self._scene.character_names if n != name]
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            names.append(name)
        self.castChanged.emit(names)
        return True

    def _in_panel(self, index: Index) -> bool:
        return self._scene is not None and index.data() in self._scene.character_names

    def _tagged(self, index: Index) -> bool:
        return self._scene is not None and index.data() in find_tags(self._scene.prompt)
