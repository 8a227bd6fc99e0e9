"""Take comparison: a panel's takes side by side at full size, two or four at a time.

Left/Right cycle through the takes (wrapping around), so any two can be seen
next to each other; each picture is decoded at full resolution off the UI
thread and scaled to its tile. "Use Take N" (or Enter for the first tile) makes
that take the panel's picture, through the same undoable command as the strip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import TakeRecord
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.take_strip import ACTIVE_COLOR, active_state

# Full size for the pictures a comparison shows: only a few are kept decoded.
FULL_SIZE = 4096
FULL_SIZE_LIMIT = 8
LAYOUTS = (2, 4)


class TakeTile(QFrame):
    """One take in the comparison: its picture, label, state and a Use button."""

    useRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.take: TakeRecord | None = None
        self._pixmap: QPixmap | None = None
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(QSize(120, 80))
        self.picture.setStyleSheet("background: #2b2b2b; color: #9a9a9a")
        self.label = QLabel()
        self.state = QLabel()
        self.state.setStyleSheet(f"color: {ACTIVE_COLOR}; font-weight: bold")
        self.use_button = QPushButton()
        # Arrow keys and Enter belong to the comparison (cycle, use the first take).
        self.use_button.setAutoDefault(False)
        self.use_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.use_button.clicked.connect(self._use)
        row = QHBoxLayout()
        row.addWidget(self.label)
        row.addWidget(self.state)
        row.addStretch(1)
        row.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.picture, 1)
        layout.addLayout(row)

    def show_take(self, take: TakeRecord, state: str, pixmap: QPixmap | None) -> None:
        self.take = take
        self.label.setText(f"{take.label} · seed {take.params.seed}")
        self.state.setText(f"✓ {state}" if state else "")
        self.use_button.setText(f"Use {take.label}")
        self.use_button.setEnabled(not state)
        border = f"3px solid {ACTIVE_COLOR}" if state else "1px solid palette(mid)"
        self.setStyleSheet(f"TakeTile {{ border: {border}; }}")
        self.set_pixmap(pixmap)

    def set_pixmap(self, pixmap: QPixmap | None) -> None:
        self._pixmap = pixmap
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            self.picture.setPixmap(QPixmap())
            self.picture.setText("loading…" if self.take is not None else "")
            return
        self.picture.setPixmap(
            self._pixmap.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def _use(self) -> None:
        if self.take is not None:
            self.useRequested.emit(self.take.id)


class TakeComparison(QDialog):
    """Compare one panel's takes; ``activateRequested(take id)`` asks to make one active."""

    activateRequested = Signal(int)

    def __init__(
        self,
        session: ProjectSession,
        scene_id: int,
        start_take_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._scene_id = scene_id
        self._takes: list[TakeRecord] = []
        self._active: int | None = None
        self._picked = False
        self._start = 0
        self._count = LAYOUTS[0]
        self._images = ThumbnailCache(session.store, self, size=FULL_SIZE, limit=FULL_SIZE_LIMIT)
        self.tiles = [TakeTile() for _ in range(max(LAYOUTS))]
        self.layout_buttons = QButtonGroup(self)
        self.position = QLabel()
        self._build()
        for tile in self.tiles:
            tile.useRequested.connect(self.activateRequested)
        self._images.ready.connect(self._on_image)
        session.sceneChanged.connect(self._on_scene_changed)
        session.scenesChanged.connect(self.reload)
        self.reload()
        self._start = self._index_of(start_take_id if start_take_id is not None else self._active)
        self._show()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left/Right cycle through the takes; Enter uses the first one shown."""
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            self.cycle(1 if key == Qt.Key.Key_Right else -1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._use_first()
        else:
            super().keyPressEvent(event)

    def shown_take_ids(self) -> list[int]:
        """The takes in the tiles now, left to right and top to bottom."""
        return [take.id for take in self._shown()]

    def set_count(self, count: int) -> None:
        """Show two or four takes at a time."""
        self._count = count
        self.layout_buttons.button(count).setChecked(True)
        self._show()

    def cycle(self, step: int) -> None:
        """Move every tile on by ``step`` takes (wrapping around): Left and Right."""
        if self._takes:
            self._start = (self._start + step) % len(self._takes)
            self._show()

    def reload(self) -> None:
        try:
            scene = self._session.store.scenes.get(self._scene_id)
            self._takes = self._session.store.takes.list(self._scene_id)
        except StoryboardError:
            self.close()  # the panel is gone (deleted here or by another program)
            return
        self._active, self._picked = scene.active_take_id, scene.take_picked
        self.setWindowTitle(f"Panel {scene.number}: compare takes")
        self._start = min(self._start, max(0, len(self._takes) - 1))
        self._show()

    def _build(self) -> None:
        bar = QHBoxLayout()
        for count in LAYOUTS:
            button = QPushButton(f"{count} up")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.layout_buttons.addButton(button, count)
            bar.addWidget(button)
        self.layout_buttons.button(self._count).setChecked(True)
        self.layout_buttons.idClicked.connect(self.set_count)
        bar.addStretch(1)
        bar.addWidget(QLabel("←/→ cycle through the takes · Enter uses the first"))
        bar.addWidget(self.position)
        self.grid = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(self.grid, 1)
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            available = screen.availableGeometry().size()
            self.resize(int(available.width() * 0.9), int(available.height() * 0.9))

    def _shown(self) -> list[TakeRecord]:
        count = min(self._count, len(self._takes))
        return [self._takes[(self._start + i) % len(self._takes)] for i in range(count)]

    def _show(self) -> None:
        shown = self._shown()
        columns = 2 if len(shown) > 1 else 1
        for index, tile in enumerate(self.tiles):
            self.grid.removeWidget(tile)
            tile.setVisible(index < len(shown))
            if index < len(shown):
                self.grid.addWidget(tile, index // columns, index % columns)
                take = shown[index]
                state = active_state(take.id == self._active, self._picked)
                tile.show_take(take, state, self._images.pixmap(take.media))
        total = len(self._takes)
        numbers = ", ".join(str(take.number) for take in shown)
        self.position.setText(f"showing take {numbers} of {total}" if total else "no takes")

    def _index_of(self, take_id: int | None) -> int:
        ids = [take.id for take in self._takes]
        return ids.index(take_id) if take_id in ids else 0

    def _use_first(self) -> None:
        shown = self._shown()
        if shown:
            self.activateRequested.emit(shown[0].id)

    def _on_image(self, media: str) -> None:
        for tile in self.tiles:
            if tile.take is not None and tile.take.media == media and not tile.isHidden():
                tile.set_pixmap(self._images.pixmap(media))

    def _on_scene_changed(self, scene_id: int) -> None:
        if scene_id == self._scene_id:
            self.reload()

    def done(self, result: int) -> None:
        self._images.close()
        super().done(result)
