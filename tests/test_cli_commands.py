"""Everyday command-line behaviour: pipes, progress, and the editing commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import EXAMPLES

from storyboard_app.cli import main


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    assert (
        main(["new", str(tmp_path / "demo"), "--from", str(EXAMPLES / "forest_treasure.txt")]) == 0
    )
    project = tmp_path / "demo.storyboard"
    for command in (["info", str(project)], ["scenes", str(project)], ["--help"]):
        child = subprocess.Popen(
            [sys.executable, "-m", "storyboard_app", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # the reader is gone before the command writes a byte
        err = child.stderr.read().decode()
        child.wait(timeout=60)
        assert "Traceback" not in err
        assert "BrokenPipe" not in err
        assert "Exception ignored" not in err
