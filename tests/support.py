"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "projects_example"


def png_bytes(color: str = "red", size: tuple[int, int] = (16, 16)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in-process; return its exit code, stdout and stderr."""
    from storyboard_app.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def folder_digest(folder: Path) -> dict[str, str]:
    """Hash every file of a folder (SQLite's -wal/-shm aside) to prove nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder``: a real disk that fills up (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + mounted.stderr.decode().strip())
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Write a filler file until the disk holding ``folder`` has no room left; return it."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 512, b"\0"):
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


RED, BLUE, GREEN = png_bytes("red"), png_bytes("blue"), png_bytes("green")


def edit_demo_project(path: Path) -> Path:
    """Four panels, two characters; panel 1 has two takes (the second active), panel 2 one."""
    from storyboard_app.project.records import TakeParams
    from storyboard_app.project.store import ProjectStore

    with ProjectStore.create(path) as store:
        store.characters.add("Mara", "a young woman with short red hair, green raincoat")
        store.characters.add("Bob", "an old man with a white beard, blue sweater")
        first = store.scenes.add("[Mara] climbs the lighthouse stairs")
        second = store.scenes.add("[Bob] waits at the top")
        store.scenes.add("[Mara] and [Bob] look at the sea")
        store.scenes.add("[NC] a storm over the sea")
        store.takes.add(first.id, RED, TakeParams(width=16, height=16, seed=11, steps=4))
        store.takes.add(first.id, BLUE, TakeParams(width=16, height=16, seed=12, steps=4))
        store.takes.add(second.id, GREEN, TakeParams(width=16, height=16, seed=21))
        return store.folder


@contextmanager
def read_only_view(folder: Path) -> Iterator[Path]:
    """``folder`` as this process cannot write it: a read-only bind mount as root, else chmod."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path in modes:
            path.chmod(modes[path] & ~0o222)
        try:
            if os.access(folder, os.W_OK):
                pytest.skip("chmod does not stop this user from writing")
            yield folder
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    view = folder.parent / f"{folder.name}-read-only-view"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(folder), str(view)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot bind-mount a read-only view here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
