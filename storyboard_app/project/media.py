"""Content-addressed media files inside a project folder.

A file is named by the SHA-256 of its bytes (``media/ab/abcdef....png``), so the
same image stored twice costs nothing and a name can never point at changed
bytes. Writes are atomic: temp file, fsync, rename, fsync of the folder; a
crash leaves either the whole file or none. Every path is resolved first, and
one that a symlink leads out of the project folder is refused, so no take is
written outside it and no outside picture is read into an export.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from storyboard_app.project.errors import MediaError
from storyboard_app.project.files import atomic_write, project_path

MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")
MAX_IMAGE_PIXELS = 40_000_000
LEFTOVER_AGE_S = 600.0  # a media write takes seconds; older temporary files are leftovers
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


class MediaStore:
    """The ``media/`` folder of one project.

    ``project`` is the folder no media path may leave (default: ``root`` itself).
    """

    def __init__(self, root: Path, project: Path | None = None) -> None:
        self.root = root
        self.project = project if project is not None else root

    def path(self, name: str) -> Path:
        """Where the media file ``name`` lives; refuses non-media names and outside links."""
        if not MEDIA_NAME.match(name):
            raise MediaError(
                f"{name!r} is not a media file name.", "Media names are <sha256>.<extension>."
            )
        return project_path(self.project, self.root.relative_to(self.project), name[:2], name)

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
        atomic_write(target, data, place=self.project)
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
    except ValueError as exc:  # a NUL byte in the path
        raise MediaError(
            f"{str(source)!r} is not a file name.", "Give the path of an image file."
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
