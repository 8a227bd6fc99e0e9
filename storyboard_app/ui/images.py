"""Pictures on the UI thread: numpy arrays to QImage, and thumbnails decoded off the UI thread.

Decoding a 1024-pixel PNG takes tens of milliseconds, too long for the UI
thread when a project opens with dozens of panels. :class:`ThumbnailCache`
decodes and shrinks media files on a pool thread with Pillow and hands back a
plain numpy array; only the UI thread turns it into a QPixmap.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.store import ProjectStore
from storyboard_app.worker.host import lower_thread_priority

THUMBNAIL_SIZE = 320
CACHE_LIMIT = 400


def qimage_from_array(array: np.ndarray) -> QImage:
    """An RGB(A) uint8 array as a QImage that owns its pixels."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    channels = array.shape[2] if array.ndim == 3 else 1
    formats = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888}
    image_format = formats.get(channels, QImage.Format.Format_RGBA8888)
    return QImage(array.data, width, height, array.strides[0], image_format).copy()


def decode_thumbnail(path: Path, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The picture at ``path`` shrunk to fit ``size`` pixels, as an RGB array (pool thread)."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = image.convert("RGB")
        image.thumbnail((size, size))
        return np.asarray(image)


def placeholder(width: int, height: int, color: str, text: str = "") -> QPixmap:
    """A flat tile with a letter, for characters without a reference picture."""
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor(color))
    if text:
        painter = QPainter(pixmap)
        font = painter.font()
        font.setPixelSize(int(height * 0.5))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
    return pixmap


class ThumbnailCache(QObject):
    """Thumbnails of media files by name; ``ready``/``missing`` tell when a load finished."""

    ready = Signal(str)
    missing = Signal(str)
    _decoded = Signal(str, object)  # media name, array or None

    def __init__(
        self,
        store: ProjectStore,
        parent: QObject | None = None,
        *,
        size: int = THUMBNAIL_SIZE,
        limit: int = CACHE_LIMIT,
    ) -> None:
        """``size``: the longest side pictures are shrunk to (never enlarged); ``limit``:
        how many decoded pictures stay in memory."""
        super().__init__(parent)
        self._store = store
        self._size = size
        self._limit = limit
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._missing: set[str] = set()
        self._loading: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._decoded.connect(self._on_decoded)

    def pixmap(self, media: str) -> QPixmap | None:
        """The thumbnail if it is loaded; otherwise start loading it and return None."""
        if media in self._pixmaps:
            self._pixmaps.move_to_end(media)
            return self._pixmaps[media]
        if media not in self._loading and media not in self._missing:
            self._load(media)
        return None

    def is_missing(self, media: str) -> bool:
        return media in self._missing

    def close(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()

    def _load(self, media: str) -> None:
        try:
            path = self._store.media.path(media)
        except StoryboardError:  # a link leading outside the project: shown as missing
            self._missing.add(media)
            return
        self._loading.add(media)

        def task() -> None:
            lower_thread_priority()
            try:
                self._decoded.emit(media, decode_thumbnail(path, self._size))
            except (OSError, ValueError):
                self._decoded.emit(media, None)

        self._pool.start(task)

    def _on_decoded(self, media: str, array: np.ndarray | None) -> None:
        self._loading.discard(media)
        if array is None:
            self._missing.add(media)
            self.missing.emit(media)
            return
        self._pixmaps[media] = QPixmap.fromImage(qimage_from_array(array))
        while len(self._pixmaps) > self._limit:
            self._pixmaps.popitem(last=False)
        self.ready.emit(media)
