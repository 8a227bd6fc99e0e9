"""Issue 19 for renders: nothing written outside the project, panels deleted mid-render."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import folder_digest, run_cli

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
