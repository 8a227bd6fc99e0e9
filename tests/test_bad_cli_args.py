"""Command-line values that can never work: one message, exit code 1, project unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLES, folder_digest, run_cli

from storyboard_app.project.settings import SCHEDULER_NAMES


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = run_cli(
        capsys, "new", tmp_path / "demo", "--from", EXAMPLES / "forest_treasure.txt"
    )
    assert code == 0
    return tmp_path / "demo.storyboard"


def refused(capsys, project: Path, *args: str | Path) -> str:
    before = folder_digest(project)
    code, _, err = run_cli(capsys, *args)
    assert code == 1, err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert folder_digest(project) == before
    return err


@pytest.mark.parametrize("margin", ["nan", "inf", "-inf"])
def test_pdf_margin_that_is_not_a_number(project, tmp_path, capsys, margin) -> None:
    pdf = tmp_path / "out.pdf"
    err = refused(capsys, project, "export", project, "--pdf", pdf, f"--margin={margin}")
    assert "margin" in err
    assert not pdf.exists()


def test_export_script_into_a_missing_folder(project, tmp_path, capsys) -> None:
    target = tmp_path / "missing" / "story.toml"
    err = refused(capsys, project, "export-script", project, "-o", target)
    assert "does not exist" in err
    assert not target.parent.exists()


@pytest.mark.parametrize(
    ("options", "word"),
    [
        (["--frames", "0"], "frames"),
        (["--frames", "-3"], "frames"),
        (["--kind", "motion", "--steps", "0"], "steps"),
        (["--kind", "motion", "--guidance", "nan"], "guidance"),
        (["--kind", "motion", "--guidance", "inf"], "guidance"),
        (["--kind", "motion", "--guidance", "-100"], "guidance"),
    ],
)
def test_transition_values_that_cannot_work(project, capsys, options, word) -> None:
    err = refused(capsys, project, "transition", project, "--between", "1", "2", *options)
    assert word in err


@pytest.mark.parametrize("change", ["scheduler=bogus", "guidance=nan", "guidance=inf", "steps=0"])
def test_settings_refuse_bad_values_when_set(project, capsys, change) -> None:
    refused(capsys, project, "settings", project, "--set", change)


def test_project_scheduler_names_match_the_engine() -> None:
    from storyboard_app.engine.loading import SCHEDULER_NAMES as ENGINE_NAMES

    assert SCHEDULER_NAMES == ENGINE_NAMES
