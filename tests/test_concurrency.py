"""Several real processes on one project: no lost edit, no lost WAL, no duplicate position."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from storyboard_app.project.store import ProjectStore

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/fd")

EDITOR = textwrap.dedent(
    """
    import sys, time
    from storyboard_app.project.store import ProjectStore
    store = ProjectStore.open(sys.argv[1])
    tag, count = sys.argv[2], int(sys.argv[3])
    store.scenes.list()
    if tag == "A":
        # Opening the project again while a connection exists (as the app does when
        # it checks a project) used to read the header with open()/close(), which
        # dropped every POSIX lock this process held on the file.
        ProjectStore.open(sys.argv[1]).close()
    print("open", flush=True)
    for i in range(count):
        scene = store.scenes.add(f"{tag} {i}")
        store.scenes.update(scene.id, notes=f"note {tag} {i}")
        print(f"{tag} {i}", flush=True)
        if tag == "A":
            time.sleep(0.02)
    print("done", flush=True)
    if tag == "A":
        time.sleep(60)
    """
)


def start_editor(folder: Path, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", EDITOR, str(folder), tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def deleted_wal(pid: int) -> list[str]:
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "project.sqlite" in target and "(deleted)" in target:
            found.append(target)
    return found


def stored_prompts(folder: Path) -> dict[str, str]:
    with sqlite3.connect(folder / "project.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return dict(conn.execute("SELECT prompt, notes FROM scenes").fetchall())


def test_cli_reader_never_deletes_the_wal_of_an_open_editor(tmp_path: Path) -> None:
    """Before the fix the editor's own header check (a plain open()/close() of
    project.sqlite while its connection existed) dropped its POSIX locks, so the CLI
    process believed itself alone, checkpointed and unlinked the WAL under the
    editor: the editor's later edits went to a deleted file and were lost."""
    folder = tmp_path / "p.storyboard"
    ProjectStore.create(folder).close()
    editor = start_editor(folder, "A", 150)
    acknowledged: list[str] = []
    try:
        assert editor.stdout is not None
        assert editor.stdout.readline().strip() == "open"
        for _ in range(4):
            info = subprocess.run(
                [sys.executable, "-m", "storyboard_app", "info", str(folder)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert info.returncode == 0, info.stderr
            assert deleted_wal(editor.pid) == []
        while True:
            line = editor.stdout.readline().strip()
            assert line, editor.stderr.read() if editor.stderr else ""
            if line == "done":
                break
            acknowledged.append(line)
        assert deleted_wal(editor.pid) == []
    finally:
        editor.send_signal(signal.SIGKILL)
        editor.wait()
    prompts = stored_prompts(folder)
    assert len(acknowledged) == 150
    assert all(prompts.get(line) == f"note {line}" for line in acknowledged)


def test_concurrent_writers_lose_nothing_and_share_no_position(tmp_path: Path) -> None:
    folder = tmp_path / "p.storyboard"
    ProjectStore.create(folder).close()
    count = 100
    started = time.monotonic()
    writers = [start_editor(folder, tag, count) for tag in ("B", "C", "D")]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err
        assert out.splitlines()[-1] == "done"
    prompts = stored_prompts(folder)
    assert len(prompts) == 3 * count
    for tag in ("B", "C", "D"):
        for i in range(count):
            assert prompts[f"{tag} {i}"] == f"note {tag} {i}"
    with sqlite3.connect(folder / "project.sqlite") as conn:
        positions = [row[0] for row in conn.execute("SELECT position FROM scenes")]
    assert sorted(positions) == list(range(3 * count))
    assert time.monotonic() - started < 60
