"""``storyboard render`` and ``storyboard settings`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard_app.cli import main
from storyboard_app.cli.render import parse_panel_numbers
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore

STORY = """[Mara] a woman with red hair, green raincoat

[Mara] climbs the stairs #Up.
[NC] the sea at night
[Mara] waves
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORYBOARD_CACHE_DIR", str(tmp_path / "cache"))
    script = tmp_path / "story.txt"
    script.write_text(STORY)
    assert main(["new", str(tmp_path / "p"), "--from", str(script)]) == 0
    return tmp_path / "p.storyboard"


def test_render_with_the_tiny_model(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["render", str(project), "--model", "tiny", "--size", "64x64", "--steps", "2"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "Rendered 3 panel(s)" in captured.out
    assert "identity cache built" in captured.err
    assert main([*args, "--scenes", "3", "--reroll"]) == 0
    with ProjectStore.open(project) as store:
        counts = [scene.take_count for scene in store.scenes.list()]
    assert counts == [1, 1, 2]
    assert "loaded from disk" in capsys.readouterr().err


def test_render_without_a_model_explains_how(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(project)]) == 1
    err = capsys.readouterr().err
    assert "No model is configured" in err and "--model" in err


def test_render_missing_model_folder(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["render", str(project), "--model", str(tmp_path / "nowhere"), "--size", "64x64"])
    assert code == 1
    assert "Traceback" not in capsys.readouterr().err
    with ProjectStore.open(project) as store:
        assert store.info().take_count == 0


def test_settings_set_and_show(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", str(project), "--set", "steps=12", "--set", "blocks=up_blocks.0"]) == 0
    with ProjectStore.open(project) as store:
        settings = store.settings()
    assert settings.steps == 12 and settings.consistency.blocks == ("up_blocks.0",)
    capsys.readouterr()
    assert main(["settings", str(project), "--set", "steps=many"]) == 1
    assert "not a valid value for steps" in capsys.readouterr().err
    assert main(["settings", str(project), "--set", "colour=red"]) == 1


def test_panel_number_lists() -> None:
    assert parse_panel_numbers("1,3-5, 4", 6) == [1, 3, 4, 5]
    for bad in ("0", "2-9", "a", "3-1", ""):
        with pytest.raises(ValidationError):
            parse_panel_numbers(bad, 6)
