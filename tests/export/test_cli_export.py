"""``storyboard export`` and ``storyboard self-test`` from the command line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import av
import pytest
from pypdf import PdfReader

from storyboard_app.cli import main
from storyboard_app.cli.selftest import examples_dir, run_self_test
from storyboard_app.project.store import ProjectStore


def test_several_outputs_in_one_command(
    board: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "export",
            str(board.folder),
            "--pdf", str(out / "sheet.pdf"),
            "--layout", "worksheet",
            "--page", "letter",
            "--landscape",
            "--mp4", str(out / "animatic.mp4"),
            "--size", "64x48",
            "--fps", "12",
            "--captions",
            "--cbz", str(out / "story.cbz"),
            "--otio", str(out / "cut.otio"),
            "--frames", str(out / "frames"),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Wrote" in captured.out and "sheet.pdf (2 pages)" in captured.out
    assert "MP4" in captured.err and "21/21 frames" in captured.err
    page = PdfReader(str(out / "sheet.pdf")).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)
    with av.open(str(out / "animatic.mp4")) as container:
        assert container.streams.video[0].frames == 21
    assert len(zipfile.ZipFile(out / "story.cbz").namelist()) == 5
    assert len(list((out / "frames").iterdir())) == 21
    assert (out / "cut_stills" / "panel_004.png").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "Nothing to export"),
        (["--pdf", "{tmp}/missing/a.pdf"], "does not exist"),
        (["--pdf", "{tmp}/a.docx"], "does not end in .pdf"),
        (["--pdf", "{tmp}/a.pdf", "--page", "huge"], "not a page size"),
        (["--mp4", "{tmp}/a.mp4", "--size", "big"], "not a size"),
        (["--mp4", "{tmp}/a.mp4", "--size", "63x48"], "even width and height"),
        (["--edl", "{tmp}/a.edl", "--fps", "12"], "no 12 fps"),
    ],
)
def test_bad_requests_fail_with_one_clear_message(
    board: ProjectStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    argv = ["export", str(board.folder), *(a.format(tmp=tmp_path) for a in arguments)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.storyboard"]


def test_a_missing_project_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope"), "--pdf", str(tmp_path / "a.pdf")]) == 1
    assert "No project at" in capsys.readouterr().err


def test_examples_are_found_beside_the_package() -> None:
    assert (examples_dir() / "lighthouse_keeper.toml").is_file()


def test_self_test_renders_exports_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The full self-test the frozen app runs: tiny model render, PDF and MP4 read back.

    Run once, with ``--json``; the plain output is checked below with a broken render.
    """
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STORYBOARD_CACHE_DIR", str(tmp_path / "kept"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["self-test", "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["error"] is None
    assert [(c["check"], c["passed"]) for c in report["checks"]] == [
        ("project", True),
        ("render", True),
        ("pdf", True),
        ("mp4", True),
    ]
    assert report["checks"][1]["result"] == "9 panels with the tiny model"
    assert not (tmp_path / "kept").exists()


def test_a_failed_self_test_says_which_check_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain lines, then the same as one JSON document; the render fails, the checks stop."""
    from storyboard_app.cli import selftest

    def broken_render(_store: ProjectStore) -> None:
        raise selftest.SelfTestFailure("Rendering made 0 takes for 9 panels.", "Report it.")

    monkeypatch.setattr(selftest, "render_tiny", broken_render)
    assert run_self_test() == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("project: 9 panels from lighthouse_keeper.toml (")
    assert lines[1] == "FAILED: Rendering made 0 takes for 9 panels."
    assert main(["self-test", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ok"] is False and report["error"] == "Rendering made 0 takes for 9 panels."
    assert [(c["check"], c["passed"]) for c in report["checks"]] == [
        ("project", True),
        ("render", False),
    ]
    assert report["checks"][0]["result"] == "9 panels from lighthouse_keeper.toml"
    assert "project: 9 panels" in captured.err  # the human lines go to stderr
