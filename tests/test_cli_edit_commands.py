"""The everyday editing commands, run through the real CLI entry point.

Each refusal is checked the same way: exit code 1, one ``error:`` message, no
traceback, and every file of the project folder byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from support import BLUE, RED, edit_demo_project, folder_digest, png_bytes, run_cli

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.store import ProjectStore


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return edit_demo_project(tmp_path / "demo")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    path.write_bytes(png_bytes("purple"))
    return path


def refused(capsys: pytest.CaptureFixture[str], project: Path, *args: str | Path) -> str:
    before = folder_digest(project)
    code, out, err = run_cli(capsys, *args)
    assert code == 1, (out, err)
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert folder_digest(project) == before
    return err


def ok(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    return out


def opened(project: Path) -> ProjectStore:
    return ProjectStore.open(project)


def test_edit_character_changes_its_fields(project, image, capsys) -> None:
    ok(
        capsys,
        *("edit-character", project, "Mara", "--description", "short grey hair"),
        *("--negative", "hat", "--seed", "77", "--color", "#112233", "--reference", image),
        *("--reference-strength", "0.25"),
    )
    with opened(project) as store:
        mara = store.characters.get("Mara")
        assert (mara.description, mara.negative_prompt) == ("short grey hair", "hat")
        assert (mara.seed, mara.color) == (77, "#112233")
        assert mara.reference_media is not None
        assert store.media.read_bytes(mara.reference_media) == image.read_bytes()
        assert mara.reference_strength == 0.25
    ok(capsys, "edit-character", project, "Mara", "--no-reference")
    with opened(project) as store:
        assert store.characters.get("Mara").reference_media is None


def test_edit_character_sets_and_removes_an_ip_adapter(project, image, tmp_path, capsys) -> None:
    out = ok(capsys, "edit-character", project, "Mara", "--ip-adapter", "sd15")
    assert "Mara has no reference image yet" in out
    ok(capsys, "edit-character", project, "Mara", "--reference", image, "--ip-adapter-scale", "0.9")
    with opened(project) as store:
        mara = store.characters.get("Mara")
        assert (mara.ip_adapter, mara.ip_adapter_scale) == ("sd15", 0.9)
    adapter = tmp_path / "face.safetensors"
    adapter.write_bytes(b"{}")
    out = ok(capsys, "edit-character", project, "Mara", "--ip-adapter", adapter)
    assert "no reference image" not in out
    with opened(project) as store:
        assert store.characters.get("Mara").ip_adapter == str(adapter.resolve())
    ok(capsys, "edit-character", project, "Mara", "--no-ip-adapter")
    with opened(project) as store:
        assert store.characters.get("Mara").ip_adapter == ""
        assert store.characters.get("Bob").ip_adapter == ""


def test_renaming_a_character_renames_its_tags(project, capsys) -> None:
    out = ok(capsys, "edit-character", project, "Mara", "--name", "Mira")
    assert "panels 1 and 3 now say [Mira]" in out
    with opened(project) as store:
        prompts = [s.prompt for s in store.scenes.list()]
        assert prompts[0] == "[Mira] climbs the lighthouse stairs"
        assert prompts[2] == "[Mira] and [Bob] look at the sea"
        assert store.scenes.at(3).character_names == ("Mira", "Bob")
    ok(capsys, "edit-character", project, "Mira", "--name", "MIRA")  # its own name, recased
    with opened(project) as store:
        assert store.scenes.at(1).prompt.startswith("[MIRA]")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["Zed", "--description", "x"], "no character 'Zed'"),
        (["Zed", "--reference", "{image}"], "no character 'Zed'"),
        (["Mara"], "Nothing to change"),
        (["Mara", "--seed", "abc"], "'abc' is not a valid seed"),
        (["Mara", "--seed", "-5"], "seed"),
        (["Mara", "--color", "red", "--reference", "{image}"], "'red' is not a colour"),
        (["Mara", "--name", "bob"], "'Bob' already exists"),
        (["Mara", "--name", "NC"], "NC cannot be a character name"),
        (["Mara", "--name", "[x]"], "cannot be a character name"),
        (["Mara", "--name", "Ma\x00ra"], "cannot be a character name"),
        (["Mara", "--name", "Ma\u200bra"], "cannot be a character name"),
        (["Mara", "--reference", "face\x00.png"], "is not a file name"),
        (["Mara", "--description", "  "], "description of Mara is empty"),
        (["Mara", "--reference", "{missing}"], "does not exist"),
        (["Mara", "--reference", "{not_image}"], "not an image"),
        (["Mara", "--reference-strength", "2"], "not a number from 0 to 1"),
        (["Mara", "--reference-strength", "nan"], "not a number from 0 to 1"),
        (["Mara", "--ip-adapter", "sd99"], "neither a known kind nor an .safetensors file"),
        (["Mara", "--ip-adapter", "{missing_adapter}"], "neither a known kind"),
        (["Mara", "--ip-adapter", "{pickle}"], "is a pickle file"),
        (["Mara", "--ip-adapter-scale", "2.5"], "not a number from 0 to 2"),
        (["Mara", "--ip-adapter-scale", "nan"], "not a number from 0 to 2"),
    ],
)
def test_edit_character_refusals_change_nothing(
    project, image, tmp_path, capsys, options, message
) -> None:
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    pickle = tmp_path / "ip-adapter_sd15.bin"
    pickle.write_bytes(b"\x80\x04")
    paths = {
        "image": image,
        "missing": tmp_path / "none.png",
        "not_image": not_image,
        "missing_adapter": tmp_path / "none.safetensors",
        "pickle": pickle,
    }
    args = [option.format(**paths) for option in options]
    assert message in refused(capsys, project, "edit-character", project, *args)


def test_delete_character_refuses_while_panels_use_it(project, capsys) -> None:
    err = refused(capsys, project, "delete-character", project, "Mara")
    assert "Mara is still used by panels 1 and 3" in err
    assert "--force" in err and "[Mara]" in err
    assert "no character 'Zed'" in refused(capsys, project, "delete-character", project, "Zed")


def test_delete_character_with_force_strips_its_tags(project, capsys) -> None:
    out = ok(capsys, "delete-character", project, "Mara", "--force")
    assert "Removed its tag from panels 1 and 3" in out
    with opened(project) as store:
        assert [c.name for c in store.characters.list()] == ["Bob"]
        scenes = store.scenes.list()
        assert scenes[0].prompt == "Mara climbs the lighthouse stairs"
        assert scenes[2].prompt == "Mara and [Bob] look at the sea"
        assert scenes[2].character_names == ("Bob",)
        assert store.characters.get("Bob").position == 0


def test_delete_unused_character_needs_no_force(project, capsys) -> None:
    ok(capsys, "add-character", project, "Eve", "--description", "a tall woman")
    assert ok(capsys, "delete-character", project, "Eve") == "Deleted character Eve.\n"
    with opened(project) as store:
        assert [c.name for c in store.characters.list()] == ["Mara", "Bob"]


def test_delete_scene_closes_up_the_story(project, capsys) -> None:
    with opened(project) as store:
        first, second, third, _ = store.scenes.list()
        store.transitions.set(first.id, second.id, kind="crossfade")
        store.transitions.set(second.id, third.id, kind="cut")
    out = ok(capsys, "delete-scene", project, "2")
    assert out.startswith("Deleted panel 2 and its 1 take and 2 transitions: [Bob] waits")
    assert out.endswith("(3 panels left).\n")
    with opened(project) as store:
        scenes = store.scenes.list()
        assert [s.number for s in scenes] == [1, 2, 3]
        assert [s.prompt for s in scenes][1] == "[Mara] and [Bob] look at the sea"
        assert store.info().take_count == 2
        assert store.transitions.list() == []
    assert ok(capsys, "delete-scene", project, "3").startswith("Deleted panel 3: [NC] a storm")


@pytest.mark.parametrize(
    ("command", "extra"),
    [("delete-scene", []), ("takes", []), ("use-take", ["1"]), ("camera", ["--clear"])],
)
@pytest.mark.parametrize(
    ("panel", "message"),
    [
        ("9", "Panel 9 is outside the story (it has 4 panels)"),
        ("0", "Panel 0 is outside the story"),
        ("-1", "Panel -1 is outside the story"),
        ("two", "'two' is not a valid panel number"),
        ("1.5", "'1.5' is not a valid panel number"),
        ("9" * 25, f"Panel {'9' * 25} is outside the story (it has 4 panels)"),
        ("9" * 5000, "is not a valid panel number"),
    ],
)
def test_unknown_panels_are_refused(project, capsys, command, extra, panel, message) -> None:
    assert message in refused(capsys, project, command, project, f"{panel}", *extra)


def test_takes_lists_ids_seeds_parameters_and_hashes(project, capsys) -> None:
    rows = json.loads(ok(capsys, "takes", project, "1", "--json"))
    assert [(r["id"], r["active"], r["seed"]) for r in rows] == [(1, False, 11), (2, True, 12)]
    assert [r["number"] for r in rows] == [1, 2]
    assert [r["sha256"] for r in rows] == [hashlib.sha256(b).hexdigest() for b in (RED, BLUE)]
    assert rows[0]["params"]["steps"] == 4 and rows[0]["params"]["width"] == 16
    assert {r["media_status"] for r in rows} == {"ok"}
    table = ok(capsys, "takes", project, "1")
    assert hashlib.sha256(BLUE).hexdigest() in table and "Take 2" in table
    assert ok(capsys, "takes", project, "4").strip().endswith("(none)")


def test_takes_reports_a_missing_image(project, capsys) -> None:
    with opened(project) as store:
        store.media.path(store.takes.list(store.scenes.at(2).id)[0].media).unlink()
    (row,) = json.loads(ok(capsys, "takes", project, "2", "--json"))
    assert (row["sha256"], row["media_status"]) == (None, "missing")


def test_use_take_makes_it_active(project, capsys) -> None:
    assert ok(capsys, "use-take", project, "1", "1") == "Panel 1 now shows Take 1 (take id 1).\n"
    with opened(project) as store:
        assert store.scenes.at(1).active_take_id == 1
        assert store.scenes.at(1).take_picked, "a take chosen by hand is recorded as picked"


@pytest.mark.parametrize(
    ("panel", "take", "message"),
    [
        ("1", "3", "Take 3 belongs to another panel (panel 2), not to panel 1"),
        ("3", "1", "This panel has no takes yet"),
        ("1", "99", "There is no take 99"),
        ("1", "9" * 25, f"There is no take {'9' * 25}"),
        ("1", "0", "There is no take 0"),
        ("1", "first", "'first' is not a valid take id"),
    ],
)
def test_use_take_refusals_change_nothing(project, capsys, panel, take, message) -> None:
    err = refused(capsys, project, "use-take", project, panel, take)
    assert message in err
    if take == "3":
        assert "this panel's takes: 1, 2" in err


def test_camera_sets_and_clears_a_move(project, capsys) -> None:
    out = ok(
        capsys, "camera", project, "2", "--from", "0.5,0.5,1", "--to", "0.25,0.4,2.5",
        "--ease", "ease-out",
    )  # fmt: skip
    assert out == "Panel 2: camera from 0.5,0.5,1 to 0.25,0.4,2.5, ease_out.\n"
    with opened(project) as store:
        assert store.scenes.at(2).camera_move == CameraMove(
            Framing(0.5, 0.5, 1.0), Framing(0.25, 0.4, 2.5), "ease_out"
        )
    ok(capsys, "camera", project, "2", "--clear")
    with opened(project) as store:
        assert store.scenes.at(2).camera_move is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--from", "nan,0.5,1", "--to", "0.5,0.5,1"], "not made of finite numbers"),
        (["--from", "0.5,0.5,1", "--to", "0.5,0.5,inf"], "not made of finite numbers"),
        (["--from", "0.5,0.5", "--to", "0.5,0.5,1"], "has 2 numbers, not three"),
        (["--from", "0.5", "--to", "0.5,0.5,1"], "has 1 number, not three"),
        (["--from", "a,b,c", "--to", "0.5,0.5,1"], "is not three numbers"),
        (["--from", "1.5,0.5,1", "--to", "0.5,0.5,1"], "--from: The camera centre x = 1.5"),
        (["--from", "0.5,0.5,1", "--to", "0.5,0.5,0.5"], "--to: A zoom of 0.5 is out of range"),
        (["--from", "0.5,0.5,9", "--to", "0.5,0.5,1"], "A zoom of 9 is out of range"),
        (["--from", "0.5,0.5,1", "--to", "0.5,0.5,1", "--ease", "bounce"], "not an easing"),
        (["--from", "0.5,0.5,1"], "needs both --from and --to"),
        ([], "needs both --from and --to"),
        (["--clear", "--to", "0.5,0.5,1"], "cannot be given with --from or --to"),
    ],
)
def test_camera_refusals_change_nothing(project, capsys, options, message) -> None:
    with opened(project) as store:
        store.scenes.update(store.scenes.at(1).id, camera_move=CameraMove(easing="linear"))
    assert message in refused(capsys, project, "camera", project, "1", *options)


def test_existing_commands_refuse_panel_numbers_too_large_for_sqlite(project, capsys) -> None:
    huge = "9" * 25
    err = refused(capsys, project, "edit-scene", project, huge, "--prompt", "x")
    assert f"Panel {huge} is outside the story (it has 4 panels)" in err
    assert "outside the story" in refused(capsys, project, "move-scene", project, huge, "--to", "1")


def test_add_and_edit_scene_take_narration_and_dialogue(project, capsys) -> None:
    ok(
        capsys,
        *("add-scene", project, "[Mara] at the door", "--narration", "Midnight."),
        *("--dialogue", "Mara: Who is there?", "--dialogue", "Tom: 私だ 🙂"),
    )
    with opened(project) as store:
        scene = store.scenes.list()[-1]
        assert (scene.caption, scene.dialogue) == ("Midnight.", "Mara: Who is there?\nTom: 私だ 🙂")
        number = scene.number
    ok(capsys, "edit-scene", project, str(number), "--caption", "Later.", "--dialogue", "")
    with opened(project) as store:
        scene = store.scenes.at(number)
        assert (scene.prompt, scene.caption, scene.dialogue) == ("[Mara] at the door", "Later.", "")
