"""Hostile story scripts and images: one clear message, exit code 1, nothing changed."""

from __future__ import annotations

import os
import struct
import time
import zlib

import pytest
from support import EXAMPLES, folder_digest, run_cli

from storyboard_app.project.store import ProjectStore

CHARACTER = '[[characters]]\nname = "Mia"\ndescription = "a girl"\n'
SCENE = '[[scenes]]\nprompt = "[Mia] walks"\n'


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``; the pixels are never there."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def assert_refused(err: str, code: int, *words: str) -> None:
    assert code == 1
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    "nested",
    [
        "x = " + "[" * 5000 + "]" * 5000,
        "x = " + "{a = " * 5000 + "1" + "}" * 5000,
        "x = " + "[" * 40 + "]" * 40,
    ],
)
def test_deeply_nested_toml_is_refused(tmp_path, capsys, nested) -> None:
    script = tmp_path / "deep.toml"
    script.write_text(nested + "\n" + CHARACTER + SCENE)
    code, _, err = run_cli(capsys, "new", tmp_path / "deep", "--from", script)
    assert_refused(err, code, "levels deep")
    assert not (tmp_path / "deep.storyboard").exists()


def test_huge_story_script_is_refused(tmp_path, capsys) -> None:
    script = tmp_path / "huge.toml"
    script.write_text(CHARACTER + SCENE + "# padding\n" * 600_000)
    code, _, err = run_cli(capsys, "new", tmp_path / "huge", "--from", script)
    assert_refused(err, code, "MB")
    assert not (tmp_path / "huge.storyboard").exists()


@pytest.mark.parametrize("size", [(30_000, 30_000), (8_000, 8_000)])
def test_huge_reference_image_is_refused(tmp_path, capsys, size) -> None:
    code, _, _ = run_cli(
        capsys, "new", tmp_path / "demo", "--from", EXAMPLES / "forest_treasure.txt"
    )
    assert code == 0
    project = tmp_path / "demo.storyboard"
    before = folder_digest(project)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(*size))

    code, _, err = run_cli(
        capsys, "add-character", project, "Cat", "--description", "a cat", "--reference", bomb
    )
    assert_refused(err, code, "megapixels", "Scale")
    assert folder_digest(project) == before


def test_leftover_media_temp_files_are_removed_on_open(tmp_path, capsys) -> None:
    code, _, _ = run_cli(capsys, "new", tmp_path / "demo")
    assert code == 0
    project = tmp_path / "demo.storyboard"
    shard = project / "media" / "ab"
    shard.mkdir(parents=True)
    old = shard / ".abcdef.tmp"
    fresh = shard / ".fresh.tmp"
    kept = shard / "keep.png"
    for path in (old, fresh, kept):
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))

    with ProjectStore.open(project):
        pass
    assert not old.exists()
    assert fresh.exists()  # may be a write still under way in another process
    assert kept.exists()
