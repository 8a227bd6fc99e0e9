"""``storyboard render`` and ``storyboard settings`` from the command line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
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
    assert "Rendered 3 panels" in captured.out
    assert "identity cache built" in captured.err
    assert "] panel 3 " in captured.err and "panels 3 " not in captured.err
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


def second_project(project: Path) -> Path:
    other = project.parent / "second"
    assert main(["new", str(other), "--from", str(project.parent / "story.txt")]) == 0
    return project.parent / "second.storyboard"


def test_several_projects_share_one_model_load(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard_app.engine import project_render

    other = second_project(project)
    loads: list[str] = []
    original = project_render.load_pipeline_for

    def counted(request: object) -> object:
        loads.append(request.model_source)  # type: ignore[attr-defined]
        return original(request)  # type: ignore[arg-type]

    monkeypatch.setattr(project_render, "load_pipeline_for", counted)
    capsys.readouterr()
    args = ["render", str(project), str(other), "--model", "tiny", "--size", "64x64"]
    assert main([*args, "--steps", "1", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert loads == ["tiny"] and [load["model"] for load in report["model_loads"]] == ["tiny"]
    assert [p["project"] for p in report["projects"]] == [str(project), str(other)]
    for folder, rendered in ((project, report["projects"][0]), (other, report["projects"][1])):
        with ProjectStore.open(folder) as store:
            takes = {t.id: t for s in store.scenes.list() for t in store.takes.list(s.id)}
        assert [t["panel"] for t in rendered["takes"]] == [1, 2, 3]
        for entry in rendered["takes"]:
            take = takes[entry["take_id"]]
            assert entry["seed"] == take.params.seed and entry["scene_id"] == take.scene_id
            digest = hashlib.sha256(Path(entry["media"]).read_bytes()).hexdigest()
            assert entry["sha256"] == digest == take.media.split(".")[0]
    assert captured.err.count("Loading tiny") == 1


def test_a_bad_project_among_several_is_reported_before_any_render(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["render", str(project), str(tmp_path / "missing.storyboard"), "--model", "tiny"]
    assert main(args) == 1
    assert "No project at" in capsys.readouterr().err
    with ProjectStore.open(project) as store:
        assert store.info().take_count == 0


def test_quiet_and_verbose_renders(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["render", str(project), "--model", "tiny", "--size", "64x64", "--steps", "1"]
    assert main(["--quiet", *args]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (f"Rendered 3 panels into {project}.\n", "")
    assert main([*args, "--scenes", "1", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "debug: storyboard_app.cli.render: model tiny loaded in" in err
    assert "Loading tiny" in err and "/2] panel 1 " in err and "warning: " in err


def test_panel_outside_the_story_is_named_in_the_singular(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(project), "--model", "tiny", "--scenes", "9"]) == 1
    err = capsys.readouterr().err
    assert "error: Panel 9 is outside the story." in err
    assert main(["render", str(project), "--model", "tiny", "--scenes", "2-9"]) == 1
    assert "error: Panels 2-9 are outside the story." in capsys.readouterr().err


def test_library_output_stays_out_of_a_render_in_a_log(project: Path) -> None:
    """A real process, stderr into a pipe: our lines only, whole, and stdout pure JSON."""
    other = second_project(project)
    result = subprocess.run(
        [sys.executable, "-m", "storyboard_app", "render", str(project), str(other), "--model",
         "tiny", "--size", "64x64", "--steps", "2", "--json"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [len(p["takes"]) for p in report["projects"]] == [3, 3]
    assert len(report["model_loads"]) == 1
    assert "\r" not in result.stderr and result.stderr.endswith("\n")
    for noise in ("Loading pipeline components", "it/s", "Warning", "warn("):
        assert noise not in result.stderr
    assert result.stderr.count("Loading tiny") == 1


def test_a_command_line_render_records_what_its_takes_were_made_from(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The app can say why a panel the command line rendered went stale, also for what
    the take's own parameters do not show (a character's seed, FreeU)."""
    from storyboard_app.project.staleness import panel_stale_reasons

    settings = ["model_source=tiny", "width=64", "height=64", "steps=1"]
    assert main(["settings", str(project), *(f"--set={item}" for item in settings)]) == 0
    assert main(["render", str(project), "--scenes", "1,2"]) == 0
    with ProjectStore.open(project) as store:
        mara = store.characters.get("Mara")
        store.characters.update("Mara", seed=mara.seed + 1)
        assert [r.text for r in panel_stale_reasons(store, store.scenes.at(1))] == [
            "Mara's look changed"
        ]
        assert panel_stale_reasons(store, store.scenes.at(2)) == []
        store.update_settings(freeu="on")
        assert [r.text for r in panel_stale_reasons(store, store.scenes.at(2))] == [
            "settings changed"
        ]
    capsys.readouterr()


def test_a_render_with_overrides_records_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--steps 1`` is not the project's setting: the take reads as rendered otherwise."""
    from storyboard_app.project.staleness import panel_stale_reasons

    assert main(["settings", str(project), "--set", "model_source=tiny", "--set", "width=64",
                 "--set", "height=64"]) == 0  # fmt: skip
    assert main(["render", str(project), "--scenes", "2", "--steps", "1"]) == 0
    with ProjectStore.open(project) as store:
        assert [r.text for r in panel_stale_reasons(store, store.scenes.at(2))] == [
            "settings changed"
        ]
        store.update_settings(steps=1)
        assert panel_stale_reasons(store, store.scenes.at(2)) == []
    capsys.readouterr()
