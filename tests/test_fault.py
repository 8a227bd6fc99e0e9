"""A process killed in the middle of a batch of edits loses nothing it had committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from storyboard_app.project.store import ProjectStore

EDITOR = textwrap.dedent(
    """
    import sys
    from storyboard_app.project.store import ProjectStore

    store = ProjectStore.open(sys.argv[1])
    for index in range(100_000):
        scene = store.scenes.add(f"[NC] edit {index}", caption="x" * 2000)
        store.scenes.update(scene.id, notes=f"note {index}")
        if index % 3 == 0:
            store.scenes.move(scene.id, 0)
        print(index, flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_batch_keeps_committed_edits(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "fault") as store:
        folder = store.folder
    child = subprocess.Popen(
        [sys.executable, "-c", EDITOR, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    committed = -1
    for line in child.stdout:
        committed = int(line)
        if committed >= 40:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert committed >= 40

    with ProjectStore.open(folder) as store:
        assert store.integrity_check() == ["ok"]
        scenes = {scene.prompt: scene for scene in store.scenes.list()}
        for index in range(committed + 1):
            assert scenes[f"[NC] edit {index}"].notes == f"note {index}"
        assert sorted(s.position for s in scenes.values()) == list(range(len(scenes)))
