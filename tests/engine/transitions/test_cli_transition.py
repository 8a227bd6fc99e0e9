"""``storyboard transition`` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import png_bytes

from storyboard_app.cli import main
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

STORY = """[Mara] a woman with red hair, green raincoat

[Mara] climbs the stairs #Up.
[NC] the sea at night
[Mara] waves
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Three panels; panels 1 and 2 have images, panel 3 has none."""
    script = tmp_path / "story.txt"
    script.write_text(STORY)
    assert main(["new", str(tmp_path / "p"), "--from", str(script)]) == 0
    folder = tmp_path / "p.storyboard"
    with ProjectStore.open(folder) as store:
        first, second, _ = store.scenes.list()
        params = TakeParams(width=64, height=48, source="imported")
        store.takes.add(first.id, png_bytes("red", (64, 48)), params)
        store.takes.add(second.id, png_bytes("blue", (64, 48)), params)
    return folder


def transitions(project: Path) -> list[tuple[str, str, int]]:
    with ProjectStore.open(project) as store:
        return [(t.kind, t.status, t.frame_count) for t in store.transitions.list()]


def test_morph_and_crossfade(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transition", str(project), "--between", "1", "2", "--frames", "4"]) == 0
    assert "Made a 4-frame morph between panels 1 and 2 (1 s)." in capsys.readouterr().out
    assert main(["transition", str(project), "--between", "1", "2", "--frames", "8"]) == 0
    assert "Made an 8-frame morph between panels 1 and 2" in capsys.readouterr().out
    args = ["transition", str(project), "--between", "1", "2", "--kind", "crossfade"]
    assert main([*args, "--duration", "0.25"]) == 0
    assert transitions(project) == [("crossfade", "ready", 6)]
    assert main(["transition", str(project), "--between", "1", "2", "--kind", "cut"]) == 0
    assert "cut straight" in capsys.readouterr().out
    assert transitions(project) == [("cut", "ready", 0)]


def test_generated_motion_with_tiny_models(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["transition", str(project), "--between", "1", "2", "--kind", "motion"]
    options = ["--model", "tiny", "--frames", "4", "--size", "64x64", "--steps", "1"]
    assert main([*args, *options]) == 0
    captured = capsys.readouterr()
    assert "Made a 4-frame motion between panels 1 and 2" in captured.out
    assert "denoising" in captured.err
    assert transitions(project) == [("motion", "ready", 4)]


@pytest.mark.parametrize(
    ("between", "extra", "message"),
    [
        (["1", "3"], [], "Panels 1 and 3 are not neighbours"),
        (["2", "1"], [], "Panels 2 and 1 are not neighbours"),
        (["3", "4"], [], "Panel 4 is outside the story"),
        (["2", "3"], [], "Panel 3 has no image yet"),
        (["1", "2"], ["--model", "tiny"], "--model only applies to generated motion"),
        (["1", "2"], ["--kind", "motion", "--frames", "64"], "out of range"),
        (["1", "2"], ["--kind", "motion", "--model", "nowhere/none"], "local Hugging Face cache"),
    ],
)
def test_mistakes_are_explained_and_change_nothing(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    between: list[str],
    extra: list[str],
    message: str,
) -> None:
    code = main(["transition", str(project), "--between", *between, "--frames", "4", *extra])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert all(status != "ready" for _, status, _ in transitions(project))


def test_json_names_the_transition_and_its_frames(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["transition", str(project), "--between", "1", "2", "--frames", "3", "--json"]
    assert main([*args, "--kind", "morph"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    with ProjectStore.open(project) as store:
        (record,) = store.transitions.list()
        paths = [str(store.media.path(name)) for name in record.media]
    assert report == {
        "transition_id": record.id,
        "kind": "morph",
        "between": [1, 2],
        "from_scene_id": record.from_scene_id,
        "to_scene_id": record.to_scene_id,
        "frames": 3,
        "duration": record.duration,
        "status": "ready",
        "paths": paths,
    }
    assert all(Path(p).is_file() for p in paths) and len(paths) == 3
    assert "frames" in captured.err  # progress stays on stderr


def test_an_error_after_progress_starts_on_its_own_line(project: Path, tmp_path: Path) -> None:
    """Reproduced: ``loading [....] 0/1error: Making the motion ... failed`` in a log."""
    missing = tmp_path / "none.safetensors"
    result = subprocess.run(
        [sys.executable, "-m", "storyboard_app", "transition", str(project), "--between", "1",
         "2", "--kind", "motion", "--model", "tiny", "--predictor", str(missing), "--frames",
         "4", "--size", "64x64", "--steps", "1"],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "STORYBOARD_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 1
    assert "\r" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("loading [") and lines[0].endswith(" s)")
    assert lines[1].startswith("error: ") and str(missing) in lines[1]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_a_terminal_the_error_still_starts_on_its_own_line(
    project: Path, tmp_path: Path
) -> None:
    """The same failure with stderr on a (pseudo-)terminal: the line is redrawn, then ended."""
    controller, terminal = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "storyboard_app", "transition", str(project), "--between",
             "1", "2", "--kind", "motion", "--model", "tiny", "--predictor",
             str(tmp_path / "none.safetensors"), "--frames", "4", "--size", "64x64"],
            stdout=subprocess.PIPE, stderr=terminal, check=False, timeout=300,
            env={**os.environ, "STORYBOARD_CACHE_DIR": str(tmp_path / "cache")},
        )  # fmt: skip
        os.close(terminal)
        seen = b""
        while chunk := read_some(controller):
            seen += chunk
    finally:
        os.close(controller)
    text = seen.decode().replace("\r\n", "\n")  # the terminal turns \n into \r\n
    assert result.returncode == 1
    assert text.startswith("\rloading [") and "\nerror: " in text
    assert "0/1error" not in text and "Traceback" not in text


def read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side of the terminal is closed and drained
        return b""
