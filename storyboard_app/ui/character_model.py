"""Characters for the dock and for a panel's cast list.

:class:`CharacterListModel` lists a project's characters with a thumbnail: the
reference picture, else the active take of the character's first solo panel,
else a tile in its colour with its initial. :class:`PanelCastModel` adds a
checkbox per character for the panel in the inspector; a character named by a
``[Name]`` tag in the prompt stays checked (remove the tag to remove it).
"""

from __future__ import annotations

import enum

from PySide6.QtCore import (
    QAbstractListModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QPixmap

from storyboard_app.project.records import CharacterRecord, SceneRecord
from storyboard_app.project.tags import find_tags
from storyboard_app.ui.images import ThumbnailCache, placeholder
from storyboard_app.ui.project_session import ProjectSession

Index = QModelIndex | QPersistentModelIndex
ICON_SIZE = 48


class CharacterRole(enum.IntEnum):
    CHARACTER_ID = Qt.ItemDataRole.UserRole + 1
    COLOR = enum.auto()


class CharacterListModel(QAbstractListModel):
    def __init__(
        self, session: ProjectSession, thumbnails: ThumbnailCache, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._thumbnails = thumbnails
        self._rows: list[CharacterRecord] = []
        self._portraits: dict[int, str] = {}
        session.charactersChanged.connect(self.reload)
        session.scenesChanged.connect(self._reload_portraits)
        session.takesChanged.connect(self._reload_portraits)
        thumbnails.ready.connect(self._on_media)
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._rows = self._session.store.characters.list()
        self._portraits = self._find_portraits()
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
        media = self._portraits.get(character.id)
        pixmap = self._thumbnails.pixmap(media) if media else None
        if pixmap is None:
            return placeholder(ICON_SIZE, ICON_SIZE, character.color, character.name[:1].upper())
        return pixmap.scaled(
            ICON_SIZE,
            ICON_SIZE,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )

    def _find_portraits(self) -> dict[int, str]:
        """Per character: its reference picture, else its first solo panel's active take."""
        store = self._session.store
        portraits = {c.id: c.reference_media for c in self._rows if c.reference_media}
        by_name = {c.name: c.id for c in self._rows}
        for scene in store.scenes.list():
            if len(scene.character_names) != 1 or scene.active_take_id is None:
                continue
            character_id = by_name.get(scene.character_names[0])
            if character_id is not None and character_id not in portraits:
                portraits[character_id] = store.takes.get(scene.active_take_id).media
        return portraits

    def _reload_portraits(self) -> None:
        portraits = self._find_portraits()
        if portraits != self._portraits:
            self._portraits = portraits
            if self._rows:
                self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))

    def _on_media(self, media: str) -> None:
        for row, character in enumerate(self._rows):
            if self._portraits.get(character.id) == media:
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
