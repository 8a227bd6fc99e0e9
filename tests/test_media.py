"""Content-addressed, atomic media files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support import png_bytes

from storyboard_app.project import files as files_module
from storyboard_app.project.errors import DiskFullError, MediaError
from storyboard_app.project.files import atomic_write
from storyboard_app.project.media import MediaStore


def test_name_is_the_content_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    data = png_bytes()
    name = store.put_image_bytes(data)
    assert name == hashlib.sha256(data).hexdigest() + ".png"
    assert store.path(name) == tmp_path / name[:2] / name
    assert store.read_bytes(name) == data


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    assert store.put_image_bytes(png_bytes()) == store.put_image_bytes(png_bytes())
    assert len(list(tmp_path.rglob("*.png"))) == 1


def test_failed_write_leaves_neither_file_nor_temp(tmp_path: Path, monkeypatch) -> None:
    def broken_replace(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "replace", broken_replace)
    with pytest.raises(DiskFullError, match="is full"):
        atomic_write(tmp_path / "ab" / "file.png", b"data")
    assert list(tmp_path.iterdir()) == []  # not even the folder it made


def test_write_replaces_whole_file_and_fsyncs(tmp_path: Path, monkeypatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(files_module.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    atomic_write(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert len(synced) >= 2  # the file, then its folder
    assert oct(target.stat().st_mode & 0o777) == oct(files_module.FILE_MODE)


def test_not_an_image_is_refused(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"this is text, not a picture")
    with pytest.raises(MediaError, match=r"photo\.png is not an image"):
        store.put_image_file(fake)
    with pytest.raises(MediaError, match="does not exist"):
        store.put_image_file(tmp_path / "missing.png")
    assert not any(p.is_file() for p in tmp_path.rglob("*") if p != fake)


def test_truncated_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        MediaStore(tmp_path).put_image_bytes(png_bytes(size=(64, 64))[:40])


def test_bad_media_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        MediaStore(tmp_path).path("../../etc/passwd")


def test_missing_media_file_is_reported(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    name = store.put_image_bytes(png_bytes())
    store.path(name).unlink()
    with pytest.raises(MediaError, match="missing"):
        store.read_bytes(name)
