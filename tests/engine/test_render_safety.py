"""Issue 19 for renders: nothing written outside the project, panels deleted mid-render."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import fill_disk, folder_digest, run_cli, small_disk

from storyboard_app.cli import main
from storyboard_app.project.store import ProjectStore

STORY = """[Mara] a woman with red hair, green raincoat

[Mara] climbs the stairs
[NC] the sea at night
[Mara] waves
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORYBOARD_CACHE_DIR", str(tmp_path / "model-cache"))
    script = tmp_path / "story.txt"
    script.write_text(STORY)
    assert main(["new", str(tmp_path / "p"), "--from", str(script)]) == 0
    return tmp_path / "p.storyboard"


def test_render_refuses_an_identity_cache_folder_linked_outside(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # A file named like one of our caches, which Storyboard never wrote.
    (outside / "mara-0123456789abcdef-0123456789abcdef01234567.safetensors").write_bytes(b"x")
    before = folder_digest(outside)
    (project / "cache").mkdir()
    (project / "cache" / "identity").symlink_to(outside)
    code, _, err = run_cli(
        capsys, "render", project, "--model", "tiny", "--size", "64x64", "--steps", "1"
    )
    assert code == 1
    assert "leads outside the project folder" in err and "Traceback" not in err
    assert folder_digest(outside) == before
    with ProjectStore.open(project) as store:
        assert store.info().take_count == 0


PAUSED_RENDER = """
import pathlib, sys, time
from storyboard_app.cli import main
from storyboard_app.project.takes import TakeRepository

ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
original = TakeRepository.add

def add_after_the_other_process(self, *args, **kwargs):
    # Panel 1 is rendered and about to be stored: let the other process act on it.
    if not ready.exists():
        ready.touch()
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return original(self, *args, **kwargs)

TakeRepository.add = add_after_the_other_process
raise SystemExit(main(sys.argv[3:]))
"""


def render_while(project: Path, tmp_path: Path, meddle: Callable[[ProjectStore], None]) -> str:
    """Render in a child process; when panel 1 is about to be stored, run ``meddle`` here."""
    script = tmp_path / "paused_render.py"
    script.write_text(PAUSED_RENDER)
    ready, go = tmp_path / "ready", tmp_path / "go"
    args = ["render", str(project), "--model", "tiny", "--size", "64x64", "--steps", "2"]
    child = subprocess.Popen(
        [sys.executable, str(script), str(ready), str(go), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        deadline = time.monotonic() + 240
        while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), child.communicate()[0]
        with ProjectStore.open(project) as store:
            meddle(store)
        go.touch()
        output, _ = child.communicate(timeout=240)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, output
    assert "Traceback" not in output
    return output


def media_files(project: Path) -> set[str]:
    return {p.name for p in (project / "media").rglob("*") if p.is_file()}


def test_a_panel_deleted_by_another_process_mid_render_is_skipped(
    project: Path, tmp_path: Path
) -> None:
    def delete_first(store: ProjectStore) -> None:
        store.scenes.delete(store.scenes.at(1).id)

    output = render_while(project, tmp_path, delete_first)
    assert "Panel 1 was deleted while it rendered" in output
    assert "Rendered 2 panels" in output
    with ProjectStore.open(project) as store:
        scenes = store.scenes.list()
        assert [s.prompt for s in scenes] == ["the sea at night", "[Mara] waves"]
        assert [s.take_count for s in scenes] == [1, 1]
        kept = {store.takes.get(s.active_take_id).media for s in scenes}
        assert store.integrity_check() == ["ok"]
    assert media_files(project) == kept  # no orphan picture of the deleted panel


def test_a_panel_moved_by_another_process_mid_render_keeps_its_take(
    project: Path, tmp_path: Path
) -> None:
    def move_first_to_the_end(store: ProjectStore) -> None:
        store.scenes.move(store.scenes.at(1).id, 2)

    output = render_while(project, tmp_path, move_first_to_the_end)
    assert "Rendered 3 panels" in output
    with ProjectStore.open(project) as store:
        scenes = store.scenes.list()
        assert [s.prompt for s in scenes][-1] == "[Mara] climbs the stairs"
        assert [s.take_count for s in scenes] == [1, 1, 1]
        kept = {store.takes.get(s.active_take_id).media for s in scenes}
    assert media_files(project) == kept


@pytest.mark.parametrize("cached", [False, True], ids=["building-caches", "writing-takes"])
def test_a_disk_that_fills_during_a_render_gets_a_message_and_nothing_half_made(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cached: bool,
) -> None:
    from storyboard_app.engine.story_renderer import StoryRenderer

    monkeypatch.setenv("STORYBOARD_CACHE_DIR", str(tmp_path / "model-cache"))
    script = tmp_path / "story.txt"
    script.write_text(STORY)
    render = ["--model", "tiny", "--size", "64x64", "--steps", "1"]
    with small_disk(tmp_path / "disk", "8m") as disk:
        project = disk / "p.storyboard"
        assert run_cli(capsys, "new", disk / "p", "--from", script)[0] == 0
        if cached:
            assert run_cli(capsys, "render", project, *render)[0] == 0
        before = folder_digest(project)
        real_render = StoryRenderer.render

        def render_on_a_filling_disk(self: StoryRenderer, *args: object, **kwargs: object):
            fill_disk(disk)  # the disk fills up once the model is loaded
            return real_render(self, *args, **kwargs)

        monkeypatch.setattr(StoryRenderer, "render", render_on_a_filling_disk)
        code, _, err = run_cli(capsys, "render", project, *render, "--reroll")
        assert code == 1
        assert f"The disk holding {project} is full" in err and "Traceback" not in err
        (disk / "filler.bin").unlink()
        assert folder_digest(project) == before  # no partial cache, media or temp file
        with ProjectStore.open(project) as store:
            assert store.integrity_check() == ["ok"]
