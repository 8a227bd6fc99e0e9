"""Progress on stderr: whole lines at a modest rate in a log, a tidy line on a terminal."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import png_bytes, run_cli

from storyboard_app.cli.progress import Progress
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

PROGRESS_LINE = re.compile(r"^(?P<stage>.+?) \[[#.]{20}\] (?P<done>\d+)/(?P<total>\d+)")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_whole_lines_once_a_second_and_each_stage_s_last() -> None:
    stream, clock = io.StringIO(), FakeClock()
    with Progress(stream, interactive=False, clock=clock) as progress:
        for step in range(1, 1001):  # 1000 steps over 10 s
            clock.now = step / 100
            progress.update("MP4", step, 1000, "frames")
        for step in range(1, 4):
            progress.update("PDF", step, 5, "pages")  # stopped early: its last still shows
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and stream.getvalue().endswith("\n")
    mp4 = [line for line in lines if line.startswith("MP4")]
    assert 10 <= len(mp4) <= 12
    assert "1000/1000 frames" in mp4[-1]
    assert [line.split("] ")[1].split()[0] for line in lines if line.startswith("PDF")] == [
        "1/5",
        "3/5",
    ]


def test_on_a_terminal_other_output_starts_on_a_new_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with Progress(stream, interactive=True, clock=FakeClock()) as progress:
        progress.update("training", 1, 4, "steps", "loss 0.5000")
        progress.update("training", 2, 4, "steps")  # held back: under a tenth of a second
        print("warning: something happened", file=sys.stderr)
        progress.update("training", 4, 4, "steps")
    assert sys.stderr is stream  # the guard is gone again
    text = stream.getvalue()
    assert "\rtraining [#####...............] 1/4 steps loss 0.5000 (0 s)\n" in text
    assert "\nwarning: something happened\n" in text
    assert text.endswith("4/4 steps loss 0.5000 (0 s)\n")  # the detail is kept


def test_quiet_progress_writes_nothing() -> None:
    stream = io.StringIO()
    with Progress(stream, enabled=False, interactive=False) as progress:
        progress.update("MP4", 1, 1)
    assert stream.getvalue() == ""


def long_project(folder: Path, panels: int = 6, seconds: float = 6.0) -> Path:
    with ProjectStore.create(folder) as store:
        store.update_settings(width=64, height=64, frame_rate=24)
        for number in range(panels):
            scene = store.scenes.add(f"[NC] shot {number}", duration=seconds / panels)
            store.takes.add(scene.id, png_bytes("red", (64, 48)), TakeParams(width=64, height=48))
    return folder


def run_storyboard(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storyboard_app", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_export_progress_into_a_log_is_whole_lines_at_a_bounded_rate(tmp_path: Path) -> None:
    project = long_project(tmp_path / "long.storyboard", seconds=20.0)
    frames = tmp_path / "frames"
    started = time.monotonic()
    result = run_storyboard(
        "export", project, "--mp4", tmp_path / "a.mp4", "--frames", frames, "--size", "64x48"
    )
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and result.stderr.endswith("\n")
    stages: dict[str, list[str]] = {}
    for line in result.stderr.splitlines():
        match = PROGRESS_LINE.match(line)
        assert match, f"not a progress line: {line!r}"
        stages.setdefault(match["stage"], []).append(line)
    assert set(stages) == {"MP4", "Frames"}
    for lines in stages.values():
        assert "480/480 frames" in lines[-1]
        assert len(lines) <= wall + 2  # one a second, plus the first and the last
    assert result.stdout.count("Wrote") == 2


def test_export_json_lists_what_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = long_project(tmp_path / "p.storyboard", panels=2, seconds=1.0)
    pdf, mp4 = tmp_path / "a.pdf", tmp_path / "a.mp4"
    code, out, err = run_cli(
        capsys, "export", project, "--pdf", pdf, "--mp4", mp4, "--size", "64x48", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["project"] == str(project)
    by_format = {o["format"]: o for o in report["outputs"]}
    assert by_format["PDF"]["path"] == str(pdf) and by_format["PDF"]["unit"] == "pages"
    assert by_format["PDF"]["count"] >= 1 and by_format["PDF"]["duration"] is None
    assert by_format["MP4"] | {"seconds": 0} == {
        "format": "MP4",
        "path": str(mp4),
        "count": 24,
        "unit": "frames",
        "extra": [],
        "duration": 1.0,
        "seconds": 0,
    }
    assert pdf.is_file() and mp4.is_file()
    assert "MP4" in err  # progress stays on stderr


def test_quiet_export_shows_only_the_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = long_project(tmp_path / "p.storyboard", panels=2, seconds=1.0)
    for argv in (["--quiet", "export"], ["export", "-q"]):
        target = tmp_path / f"{len(argv[0])}.mp4"
        code, out, err = run_cli(capsys, *argv, project, "--mp4", target, "--size", "64x48")
        assert (code, err) == (0, "")
        assert out == f"Wrote {target} (24 frames).\n"


def test_verbose_and_quiet_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = long_project(tmp_path / "p.storyboard", panels=1, seconds=1.0)
    code, _, err = run_cli(capsys, "-v", "info", project, "--quiet")
    assert code == 1 and "--verbose and --quiet contradict" in err
