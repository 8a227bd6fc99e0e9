"""StoryboardModel: the panels of a project in timeline order, for the storyboard grid.

One row per scene with what a panel card shows: the active take's thumbnail
(or the live preview while it renders), number, caption, the colour tags of its
characters, and a status (not rendered, queued, rendering 12/30, stale). Dragged
panels travel as a list of scene ids; the view turns a drop into one undoable
move.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from storyboard_app.project.records import CharacterRecord, LoraRecord, SceneRecord, TakeRecord
from storyboard_app.project.render_guard import blank_prompt
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.render_status import RenderStatusBook
from storyboard_app.ui.staleness import StaleReason, describe_reasons, stale_reasons

PANEL_MIME_TYPE = "application/x-storyboard-panels"
LARGE_SIZE = 1280
LARGE_LIMIT = 24
Index = QModelIndex | QPersistentModelIndex


class PanelRole(enum.IntEnum):
    SCENE_ID = Qt.ItemDataRole.UserRole + 1
    NUMBER = enum.auto()
    CAPTION = enum.auto()
    COLORS = enum.auto()
    STATUS = enum.auto()
    STATUS_KIND = enum.auto()
    IMAGE = enum.auto()
    STALE_REASONS = enum.auto()  # list of texts: why the picture is out of date
    META = enum.auto()  # the shot line: "close-up · 2.0 s"
    SHOT_TYPE = enum.auto()
    DURATION = enum.auto()
    BLANK = enum.auto()  # no Action text yet: the card shows a hint instead
    TAKE_LABEL = enum.auto()  # "Take 2" (the active take), or "" without one
    LARGE_IMAGE = enum.auto()  # the picture for a card wider than a thumbnail


class StatusKind(enum.StrEnum):
    NOT_RENDERED = "not rendered"
    RENDERED = "rendered"
    IMPORTED = "imported"
    STALE = "stale"
    MISSING = "missing image"
    QUEUED = "queued"
    RENDERING = "rendering"


@dataclass(frozen=True)
class PanelRow:
    scene: SceneRecord
    take: TakeRecord | None
    colors: tuple[str, ...]
    stale_reasons: tuple[StaleReason, ...] = ()

    @property
    def stale(self) -> bool:
        return bool(self.stale_reasons)


class StoryboardModel(QAbstractListModel):
    def __init__(
        self,
        session: ProjectSession,
        status: RenderStatusBook,
        thumbnails: ThumbnailCache,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._status = status
        self._thumbnails = thumbnails
        # Zoomed-in cards get sharper pictures, decoded on their own pool thread.
        self._large = ThumbnailCache(session.store, self, size=LARGE_SIZE, limit=LARGE_LIMIT)
        self._rows: list[PanelRow] = []
        self._index: dict[int, int] = {}  # scene id: row
        self._characters: dict[str, CharacterRecord] = {}
        self._settings = session.records.settings()
        self._loras: list[LoraRecord] = []
        session.scenesChanged.connect(self._rebuild)
        session.charactersChanged.connect(self._rebuild)
        session.settingsChanged.connect(self._rebuild)
        session.sceneChanged.connect(self.refresh_scene)
        status.changed.connect(self._on_activity)
        thumbnails.ready.connect(self._on_media)
        thumbnails.missing.connect(self._on_media)
        self._large.ready.connect(self._on_media)
        self._rebuild()

    def close(self) -> None:
        """Stop decoding large pictures (the project is closing)."""
        self._large.close()

    def reload(self) -> None:
        """Read every panel from the store again; same panels in the same order update in
        place."""
        self._session.records.forget()
        self._rebuild()

    def _rebuild(self) -> None:
        """Show the panels as the session's shared records hold them after a change (read
        once per change for all views)."""
        records = self._session.records
        self._characters = {c.name: c for c in records.characters()}
        self._settings = records.settings()
        self._loras = records.loras()
        takes = records.takes_by_scene()
        rows = [self._row(scene, takes.get(scene.id, [])) for scene in records.scenes()]
        if [r.scene.id for r in rows] == self.scene_ids():
            self._rows = rows
            self._index = {row.scene.id: number for number, row in enumerate(rows)}
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self._index = {row.scene.id: number for number, row in enumerate(rows)}
        self.endResetModel()

    def refresh_scene(self, scene_id: int) -> None:
        row = self.row_of(scene_id)
        if row is None:
            return
        records = self._session.records
        scene = records.scene(scene_id)
        if scene is None:
            # Deleted by another program since: the story is read again.
            self.reload()
            return
        self._rows[row] = self._row(scene, records.takes(scene_id))
        self.dataChanged.emit(self.index(row), self.index(row))

    def scene_ids(self) -> list[int]:
        return [row.scene.id for row in self._rows]

    def row_of(self, scene_id: int) -> int | None:
        """The panel's row, looked up (at a thousand panels a search per call added up)."""
        return self._index.get(scene_id)

    def panel(self, row: int) -> PanelRow:
        return self._rows[row]

    def panels_of(self, scene_ids: set[int]) -> list[PanelRow]:
        """The panels of ``scene_ids`` in story order (no database reads)."""
        return [row for row in self._rows if row.scene.id in scene_ids]

    def stale_scene_ids(self) -> list[int]:
        """The panels whose picture is out of date, in story order: what Render Stale renders."""
        return [row.scene.id for row in self._rows if row.stale]

    def unfinished_scene_ids(self) -> list[int]:
        """What Render All renders: panels without a picture (or whose file is gone) or stale."""
        return [
            row.scene.id
            for row in self._rows
            if row.take is None or row.stale or self._thumbnails.is_missing(row.take.media)
        ]

    def blank_scene_ids(self) -> list[int]:
        """Panels with no Action text yet: nothing to render until the artist writes one."""
        return [row.scene.id for row in self._rows if self._blank(row)]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, PanelRole.CAPTION):
            return row.scene.caption or row.scene.prompt
        if role == Qt.ItemDataRole.ToolTipRole:
            action = row.scene.prompt if not self._blank(row) else "(no action yet)"
            tip = f"Panel {row.scene.number}: {action}\n{self._meta(row)}"
            if row.take is not None:
                tip += f" · {row.take.label}"
            if row.stale:
                tip += f"\nStale: {describe_reasons(row.stale_reasons)}"
            return tip
        if role == PanelRole.STALE_REASONS:
            return [reason.text for reason in row.stale_reasons]
        if role == PanelRole.SCENE_ID:
            return row.scene.id
        if role == PanelRole.NUMBER:
            return row.scene.number
        if role == PanelRole.COLORS:
            return list(row.colors)
        if role in (PanelRole.STATUS, PanelRole.STATUS_KIND):
            kind, text = self._status_of(row)
            return str(kind) if role == PanelRole.STATUS_KIND else text
        if role == PanelRole.IMAGE:
            return self._image_of(row)
        if role == PanelRole.LARGE_IMAGE:
            return self._large_image_of(row)
        return self._detail(row, role)

    def _detail(self, row: PanelRow, role: int) -> object:
        if role == PanelRole.META:
            return self._meta(row)
        if role == PanelRole.SHOT_TYPE:
            return row.scene.shot_type
        if role == PanelRole.DURATION:
            return row.scene.duration
        if role == PanelRole.BLANK:
            return self._blank(row)
        if role == PanelRole.TAKE_LABEL:
            return row.take.label if row.take is not None else ""
        return None

    @staticmethod
    def _meta(row: PanelRow) -> str:
        seconds = f"{row.scene.duration:.1f} s"
        return f"{row.scene.shot_type} · {seconds}" if row.scene.shot_type else seconds

    @staticmethod
    def _blank(row: PanelRow) -> bool:
        return blank_prompt(row.scene.prompt)

    def aspect(self) -> float:
        """Height over width of the project's pictures, for the cards' picture area."""
        width, height = self._settings.render_size()
        return height / width if width > 0 else 9 / 16

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return base | Qt.ItemFlag.ItemIsDragEnabled

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [PANEL_MIME_TYPE]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        ids = [self._rows[i.row()].scene.id for i in sorted(indexes, key=lambda i: i.row())]
        payload = {"project": str(self._session.folder), "scenes": ids}
        data = QMimeData()
        data.setData(PANEL_MIME_TYPE, QByteArray(json.dumps(payload).encode()))
        return data

    def dragged_scene_ids(self, data: QMimeData) -> list[int] | None:
        """The panels in a drag from this project's storyboard, or None for anything else."""
        if not data.hasFormat(PANEL_MIME_TYPE):
            return None
        payload = json.loads(bytes(data.data(PANEL_MIME_TYPE).data()).decode())
        if payload.get("project") != str(self._session.folder):
            return None
        return [int(scene_id) for scene_id in payload["scenes"]]

    def _row(self, scene: SceneRecord, takes: list[TakeRecord]) -> PanelRow:
        """The card of ``scene`` with its ``takes``."""
        take = next((t for t in takes if t.id == scene.active_take_id), None)
        characters = self._characters
        colors = tuple(characters[n].color for n in scene.character_names if n in characters)
        if take is None:
            return PanelRow(scene, None, colors)
        seeds = {t.params.seed for t in takes if t.params.source == "rendered"}
        reasons = stale_reasons(take, scene, characters, self._settings, seeds, self._loras)
        return PanelRow(scene, take, colors, tuple(reasons))

    def _status_of(self, row: PanelRow) -> tuple[StatusKind, str]:
        activity = self._status.activity(row.scene.id)
        if activity is not None:
            kind = StatusKind.RENDERING if activity.running else StatusKind.QUEUED
            return kind, activity.describe()
        if row.take is None:
            return StatusKind.NOT_RENDERED, str(StatusKind.NOT_RENDERED)
        if self._thumbnails.is_missing(row.take.media):
            return StatusKind.MISSING, str(StatusKind.MISSING)
        if row.stale:
            return StatusKind.STALE, f"stale: {describe_reasons(row.stale_reasons)}"
        source = (
            StatusKind.IMPORTED if row.take.params.source == "imported" else StatusKind.RENDERED
        )
        return source, str(source)

    def _image_of(self, row: PanelRow) -> object:
        preview = self._status.preview(row.scene.id)
        if preview is not None:
            return preview
        if row.take is None:
            return None
        return self._thumbnails.pixmap(row.take.media)

    def _large_image_of(self, row: PanelRow) -> object:
        """The sharper picture once decoded; the thumbnail (or preview) meanwhile."""
        if row.take is not None and self._status.preview(row.scene.id) is None:
            large = self._large.pixmap(row.take.media)
            if large is not None:
                return large
        return self._image_of(row)

    def _on_activity(self, scene_ids: tuple[int, ...]) -> None:
        for scene_id in scene_ids:
            row = self.row_of(scene_id)
            if row is not None:
                self.dataChanged.emit(self.index(row), self.index(row))

    def _on_media(self, media: str) -> None:
        """Repaint the panels showing ``media`` in one signal: panels of a copied story
        share pictures, and a thousand signals for one picture held the UI for 25 ms."""
        rows = [
            number
            for number, row in enumerate(self._rows)
            if row.take is not None and row.take.media == media
        ]
        if rows:
            self.dataChanged.emit(self.index(rows[0]), self.index(rows[-1]))
