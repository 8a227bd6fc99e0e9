"""Content-addressed media files inside a project folder.

A file is named by the SHA-256 of its bytes (``media/ab/abcdef....png``), so the
same image stored twice costs nothing and a name can never point at changed
bytes. Writes are atomic: temp file, fsync, rename, fsync of the folder; a
crash leaves either the whole file or none.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from storyboard_app.project.errors import MediaError

MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")
# mkstemp creates 0600 files; media should be readable like any file the user saves.
MEDIA_FILE_MODE = 0o644
MAX_IMAGE_PIXELS = 40_000_000
LEFTOVER_AGE_S = 600.0  # a media write takes seconds; older temporary files are leftovers
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


class MediaStore:
    """The ``media/`` folder of one project."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        """Where the media file ``name`` lives; refuses names that are not media names."""
        if not MEDIA_NAME.match(name):
            raise MediaError(
                f"{name!r} is not a media file name.", "Media names are <sha256>.<extension>."
            )
        return self.root / name[:2] / name

    def remove_leftover_temp_files(self, older_than_s: float = LEFTOVER_AGE_S) -> int:
        """Delete the ``.*.tmp`` files of writes that were killed; return how many went.

        Only files older than ``older_than_s`` are taken, so a write still under
        way in another process keeps its temporary file.
        """
        removed = 0
        cutoff = time.time() - older_than_s
        for temp in self.root.glob("*/.*.tmp"):
            try:
                if temp.is_file() and temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
            except OSError:
                continue  # gone already, or not ours to delete; harmless either way
        return removed

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def put_bytes(self, data: bytes, extension: str) -> str:
        """Store ``data`` and return its media name; storing the same bytes again is free."""
        extension = extension.lower().lstrip(".")
        name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
        target = self.path(name)
        if target.is_file() and target.stat().st_size == len(data):
            return name
        atomic_write(target, data)
        return name

    def put_image_file(self, source: Path) -> str:
        """Store an image file after checking that it really is an image."""
        return self.put_image_bytes(read_image_file(source), what=str(source))

    def put_image_bytes(self, data: bytes, what: str = "the image") -> str:
        extension = image_extension(data, what)
        return self.put_bytes(data, extension)

    def read_bytes(self, name: str) -> bytes:
        path = self.path(name)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise MediaError(
                f"Media file {name} is missing from {self.root}.",
                "Restore the project's media folder from a backup, or re-render the panel.",
            ) from exc


def read_image_file(source: Path) -> bytes:
    """The bytes of a file the user named as an image, or a clear error."""
    try:
        return source.read_bytes()
    except FileNotFoundError as exc:
        raise MediaError(
            f"Image file {source} does not exist.", "Check the path and try again."
        ) from exc
    except OSError as exc:
        raise MediaError(
            f"Cannot read {source}: {exc.strerror}.", "Check its permissions."
        ) from exc


def image_extension(data: bytes, what: str) -> str:
    """The file extension for image bytes, after Pillow has verified them."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _too_large(what, width, height)
            image.verify()
    except Image.DecompressionBombError as exc:
        raise _too_large(what, None, None) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            f"{what} is not an image Storyboard can read.",
            "Use a PNG, JPEG, WebP, BMP or TIFF file.",
        ) from exc
    if image_format not in IMAGE_FORMATS:
        raise MediaError(
            f"{what} is a {image_format or 'unknown'} image, which is not supported.",
            "Use a PNG, JPEG, WebP, BMP or TIFF file.",
        )
    return IMAGE_FORMATS[image_format]


def _too_large(what: str, width: int | None, height: int | None) -> MediaError:
    size = f" ({width} x {height} pixels)" if width is not None else ""
    return MediaError(
        f"{what} is too large{size}; images of more than "
        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are refused.",
        "Scale the image down (for example to 4096 pixels on the long side) and try again.",
    )


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that readers see the old file or the whole new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp_name, MEDIA_FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
