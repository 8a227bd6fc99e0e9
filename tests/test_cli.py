"""The ``storyboard`` command line: every command, and one clear message per bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support import EXAMPLES, folder_digest, png_bytes, run_cli

from storyboard_app.project.store import ProjectStore


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = run_cli(
        capsys, "new", tmp_path / "demo", "--from", EXAMPLES / "forest_treasure.txt"
    )
    assert code == 0
    return tmp_path / "demo.storyboard"


def test_new_empty_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "new", tmp_path / "empty", "--name", "My Story")
    assert code == 0
    assert "0 characters and 0 panels" in out
    code, out, _ = run_cli(capsys, "info", tmp_path / "empty.storyboard", "--json")
    assert json.loads(out)["name"] == "My Story"


def test_new_from_both_example_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for script in ("lighthouse_keeper.toml", "forest_treasure.txt"):
        code, _out, err = run_cli(capsys, "new", tmp_path / script, "--from", EXAMPLES / script)
        assert (code, err) == (0, "")
        with ProjectStore.open(tmp_path / f"{script}.storyboard") as store:
            assert len(store.scenes.list()) >= 8


def test_listings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "characters", project)
    assert code == 0 and "Bob" in out and "Alice" in out
    code, out, _ = run_cli(capsys, "scenes", project, "--json")
    scenes = json.loads(out)
    assert scenes[0]["number"] == 1
    assert any(s["character_names"] == [] for s in scenes)
    assert any(s["character_names"] == ["Bob", "Alice"] for s in scenes)
    code, out, _ = run_cli(capsys, "info", project)
    assert "Forest Treasure" in out


def test_add_character_and_scene(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference = tmp_path / "ref.png"
    reference.write_bytes(png_bytes())
    code, out, err = run_cli(
        capsys,
        "add-character", project, "Cat",
        "--description", "a small grey cat with a red collar",
        "--color", "#aabbcc", "--seed", "7", "--reference", reference,
    )  # fmt: skip
    assert (code, err) == (0, "")
    code, out, _ = run_cli(
        capsys, "add-scene", project, "[Cat] sleeps on the map", "--at", "2", "--shot", "close-up",
        "--duration", "1.5", "--caption", "Zzz", "--lock-seed",
    )  # fmt: skip
    assert code == 0 and "panel 2" in out
    with ProjectStore.open(project) as store:
        scene = store.scenes.at(2)
        assert scene.character_names == ("Cat",)
        assert (scene.shot_type, scene.duration, scene.caption, scene.seed_locked) == (
            "close-up", 1.5, "Zzz", True,
        )  # fmt: skip
        assert store.characters.get("Cat").reference_media is not None


def test_edit_scene(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(
        capsys, "edit-scene", project, "3", "--prompt", "[Alice] and [Bob] on the phone",
        "--notes", "split screen", "--unlock-seed", "--seed", "11",
    )  # fmt: skip
    assert code == 0
    with ProjectStore.open(project) as store:
        scene = store.scenes.at(3)
        assert scene.character_names == ("Bob", "Alice")
        assert (scene.notes, scene.seed, scene.seed_locked) == ("split screen", 11, False)


def test_move_scene_reports_stale_transitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "new", tmp_path / "lh", "--from", EXAMPLES / "lighthouse_keeper.toml")
    project = tmp_path / "lh.storyboard"
    with ProjectStore.open(project) as store:
        before = store.transitions.list()
        first = store.scenes.list()[0]
    assert before
    linked = [t for t in before if first.id in (t.from_scene_id, t.to_scene_id)]
    assert {t.kind for t in linked} == {"crossfade"}
    with ProjectStore.open(project) as store:
        store.transitions.set(store.scenes.at(2).id, store.scenes.at(3).id, kind="morph")
        morph = store.transitions.list()[-1]
    code, out, _ = run_cli(capsys, "move-scene", project, "1", "--to", "5")
    assert code == 0 and out == "Moved panel 1 to 5.\n"
    with ProjectStore.open(project) as store:
        assert store.scenes.at(5).id == first.id
        order = [scene.id for scene in store.scenes.list()]
        for transition in linked:  # a crossfade needs no frames: it joins new neighbours
            moved = store.transitions.get(transition.id)
            assert order.index(moved.to_scene_id) == order.index(moved.from_scene_id) + 1
            assert first.id in (moved.from_scene_id, moved.to_scene_id)
    code, out, _ = run_cli(capsys, "move-scene", project, "1", "--to", "3")
    assert code == 0 and "Moved panel 1 to 3. 1 transition marked stale." in out
    with ProjectStore.open(project) as store:
        assert store.transitions.get(morph.id).status == "stale"


def test_export_script_round_trip(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "story.toml"
    code, _, _ = run_cli(capsys, "export-script", project, "-o", out_file)
    assert code == 0
    code, _, _ = run_cli(capsys, "new", tmp_path / "copy", "--from", out_file)
    assert code == 0
    with ProjectStore.open(project) as original, ProjectStore.open(tmp_path / "copy") as copy:
        assert copy.characters.list() == original.characters.list()
        assert copy.settings() == original.settings()
        strip = lambda scenes: [s.__dict__ | {"id": 0, "active_take_id": None} for s in scenes]  # noqa: E731
        assert strip(copy.scenes.list()) == strip(original.scenes.list())
    code, out, _ = run_cli(capsys, "export-script", project)
    assert tomllib.loads(out)["title"] == "Forest Treasure"


def test_export_preserves_reference_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = tmp_path / "ref.png"
    reference.write_bytes(png_bytes("green"))
    run_cli(capsys, "new", tmp_path / "r")
    run_cli(
        capsys,
        "add-character",
        tmp_path / "r.storyboard",
        "Ann",
        "--description",
        "a girl",
        "--reference",
        reference,
    )
    (tmp_path / "out").mkdir()
    run_cli(capsys, "export-script", tmp_path / "r.storyboard", "-o", tmp_path / "out" / "s.toml")
    code, _, err = run_cli(capsys, "new", tmp_path / "r2", "--from", tmp_path / "out" / "s.toml")
    assert (code, err) == (0, "")
    with ProjectStore.open(tmp_path / "r2") as store:
        name = store.characters.get("Ann").reference_media
        assert name is not None and store.media.read_bytes(name) == png_bytes("green")


BAD_SCRIPTS = {
    "syntax.toml": ('title = "x"\n[[characters]\nname = "A"\n', "syntax.toml:2"),
    "undefined.txt": ("[Bob] a man\n\n[Bob] waves\n[Zed] runs\n", "undefined.txt:4"),
    "duplicate.txt": ("[Bob] a man\n[Bob] another man\n\n[Bob] waves\n", "duplicate.txt:2"),
    "empty.toml": (
        'title = "x"\n[[characters]]\nname = "A"\ndescription = "a"\n\n[[scenes]]\nprompt = ""\n',
        "empty.toml:7",
    ),
    "story.docx": ("whatever", "story.docx"),
}


@pytest.mark.parametrize("name", sorted(BAD_SCRIPTS))
def test_bad_scripts_give_one_clear_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, where = BAD_SCRIPTS[name]
    script = tmp_path / name
    script.write_text(text)
    code, _out, err = run_cli(capsys, "new", tmp_path / "p", "--from", script)
    assert code == 1
    assert err.startswith("error: ") and where in err
    assert "Traceback" not in err
    assert not (tmp_path / "p.storyboard").exists()


def test_missing_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "new", tmp_path / "p", "--from", tmp_path / "nope.toml")
    assert code == 1 and "nope.toml" in err
    assert not (tmp_path / "p.storyboard").exists()


def test_new_over_existing_project_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_digest(project)
    code, _, err = run_cli(capsys, "new", project)
    assert code == 1 and "already exists" in err
    assert folder_digest(project) == before


def test_bad_project_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "info", tmp_path / "missing.storyboard")
    assert code == 1 and "No project at" in err
    garbage = tmp_path / "garbage.storyboard"
    garbage.mkdir()
    (garbage / "project.sqlite").write_bytes(b"\x00garbage" * 512)
    code, _, err = run_cli(capsys, "scenes", garbage)
    assert code == 1 and "damaged" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-character", "{p}", "Bob", "--description", "again"], "already exists"),
        (["add-character", "{p}", "Eve", "--description", "  "], "description of Eve is empty"),
        (["add-scene", "{p}", "[Zed] waves"], "no character 'Zed'"),
        (["add-scene", "{p}", "   "], "prompt of panel 13 is empty"),
        (["add-scene", "{p}", "x", "--at", "99"], "outside the story"),
        (
            ["edit-scene", "{p}", "99", "--prompt", "x"],
            "Panel 99 is outside the story (it has 12",
        ),
        (["edit-scene", "{p}", "1"], "Nothing to change"),
        (["edit-scene", "{p}", "1", "--duration", "-2"], "out of range"),
        (["move-scene", "{p}", "1", "--to", "0"], "outside the story"),
        (
            ["add-character", "{p}", "Img", "--description", "d", "--reference", "{bad_image}"],
            "not an image",
        ),
    ],
)
def test_bad_edits_change_nothing(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    bad_image = tmp_path / "notes.png"
    bad_image.write_text("not a picture")
    before = folder_digest(project)
    code, _, err = run_cli(capsys, *[a.format(p=project, bad_image=bad_image) for a in args])
    assert code == 1
    assert message in err and "Traceback" not in err
    assert folder_digest(project) == before


def test_entry_point_runs_as_a_program(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "storyboard_app", "info", str(tmp_path / "none.storyboard")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: No project at")
    assert "Traceback" not in result.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "storyboard_app", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("new", "info", "characters", "scenes", "add-character", "add-scene",
                    "edit-scene", "move-scene", "export-script"):  # fmt: skip
        assert command in help_text
