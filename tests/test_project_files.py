"""Issue 19: nothing outside the project is touched, writes are atomic, a full disk is a message.

Symlinks are made by the tests; a full disk is a real 2 MB tmpfs (skipped
where mounting needs root and the tests do not run as root).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import fill_disk, folder_digest, png_bytes, run_cli, small_disk

from storyboard_app.project.errors import OutsideProjectError
from storyboard_app.project.files import project_path
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

OUTSIDE_MESSAGE = "leads outside the project folder"


def outside_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "somebody-elses"
    outside.mkdir()
    (outside / "keep.txt").write_text("not Storyboard's")
    return outside


def test_project_path_follows_links_and_refuses_one_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "p.storyboard"
    (root / "media").mkdir(parents=True)
    assert project_path(root, "media", "ab") == root / "media" / "ab"
    (root / "inner").symlink_to(root / "media")
    assert project_path(root, "inner", "x") == root / "inner" / "x"
    (root / "out").symlink_to(outside_folder(tmp_path))
    (root / "dangling").symlink_to(tmp_path / "not-yet")
    for parts in (("out",), ("out", "new.png"), ("dangling", "x"), ("..", "x")):
        with pytest.raises(OutsideProjectError, match=OUTSIDE_MESSAGE):
            project_path(root, *parts)


def test_a_project_folder_that_is_itself_a_link_still_works(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "real.storyboard"
    real.parent.mkdir()
    ProjectStore.create(real).close()
    (tmp_path / "linked.storyboard").symlink_to(real)
    with ProjectStore.open(tmp_path / "linked.storyboard") as store:
        scene = store.scenes.add("[NC] the sea")
        store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16))
    assert len(list((real / "media").rglob("*.png"))) == 1


def test_no_take_is_written_through_a_media_folder_linked_outside(
    store: ProjectStore, tmp_path: Path
) -> None:
    scene = store.scenes.add("[NC] the sea")
    outside = outside_folder(tmp_path)
    before = folder_digest(outside)
    shutil.rmtree(store.folder / "media")
    (store.folder / "media").symlink_to(outside)
    with pytest.raises(OutsideProjectError, match=OUTSIDE_MESSAGE):
        store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16))
    assert folder_digest(outside) == before
    assert store.takes.list(scene.id) == []


def test_no_take_is_written_through_a_media_subfolder_linked_outside(
    store: ProjectStore, tmp_path: Path
) -> None:
    import hashlib

    scene = store.scenes.add("[NC] the sea")
    outside = outside_folder(tmp_path)
    before = folder_digest(outside)
    data = png_bytes()
    (store.folder / "media" / hashlib.sha256(data).hexdigest()[:2]).symlink_to(outside)
    with pytest.raises(OutsideProjectError, match=OUTSIDE_MESSAGE):
        store.takes.add(scene.id, data, TakeParams(width=16, height=16))
    assert folder_digest(outside) == before
    assert store.takes.list(scene.id) == []


def test_add_character_refuses_a_media_link_with_one_message(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = outside_folder(tmp_path)
    shutil.rmtree(store.folder / "media")
    (store.folder / "media").symlink_to(outside)
    reference = tmp_path / "face.png"
    reference.write_bytes(png_bytes("blue"))
    code, _, err = run_cli(
        capsys, "add-character", store.folder, "Mara", "--description", "red hair",
        "--reference", reference,
    )  # fmt: skip
    assert code == 1
    assert OUTSIDE_MESSAGE in err and "Traceback" not in err
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert store.characters.list() == []


@pytest.mark.parametrize("output", ["--panels", "--cbz", "--pdf"])
def test_an_outside_picture_linked_as_media_is_never_exported(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    scene = store.scenes.add("[NC] the sea")
    take = store.takes.add(scene.id, png_bytes("red"), TakeParams(width=16, height=16))
    secret = tmp_path / "private-photo.png"
    secret.write_bytes(png_bytes("blue"))
    media_file = store.media.path(take.media)
    media_file.unlink()
    media_file.symlink_to(secret)
    target = tmp_path / {"--panels": "stills", "--cbz": "story.cbz", "--pdf": "story.pdf"}[output]
    code, _, err = run_cli(capsys, "export", store.folder, output, target)
    assert code == 1, err
    assert OUTSIDE_MESSAGE in err and "Traceback" not in err
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def long_story(store: ProjectStore, panels: int = 120) -> None:
    for number in range(panels):
        store.scenes.add(f"[NC] panel {number}: the lighthouse keeper climbs the stairs " * 3)


def test_export_script_on_a_full_disk_keeps_the_old_script_whole(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_story(store)
    with small_disk(tmp_path / "disk") as disk:
        script = disk / "story.toml"
        old = "# the script the artist wrote by hand\n" * 80
        script.write_text(old)
        fill_disk(disk)
        code, _, err = run_cli(capsys, "export-script", store.folder, "-o", script)
        assert code == 1
        assert f"The disk holding {disk} is full" in err
        assert "MB free); free space and try again" in err and "Traceback" not in err
        assert script.read_text() == old
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin", "story.toml"]


def test_export_script_replaces_the_old_script_atomically(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The new script is renamed over the old one: the old file's inode is never truncated."""
    script = tmp_path / "story.toml"
    script.write_text("old")
    old_inode = script.stat().st_ino
    code, _, err = run_cli(capsys, "export-script", store.folder, "-o", script)
    assert code == 0, err
    assert script.stat().st_ino != old_inode
    assert "[project]" in script.read_text() or "title" in script.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_refused_add_character_leaves_no_reference_file(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.characters.add("Mara", "red hair")
    reference = tmp_path / "face.png"
    reference.write_bytes(png_bytes("blue"))
    before = folder_digest(store.folder)
    code, _, err = run_cli(
        capsys, "add-character", store.folder, "Mara", "--description", "another Mara",
        "--reference", reference,
    )  # fmt: skip
    assert code == 1 and "Traceback" not in err
    assert folder_digest(store.folder) == before
    assert list((store.folder / "media").rglob("*.png")) == []


def test_a_refused_script_import_leaves_no_reference_file(
    store: ProjectStore, tmp_path: Path
) -> None:
    from storyboard_app.project.errors import ValidationError
    from storyboard_app.project.scripts.model import CharacterSpec, SceneSpec, StoryScript
    from storyboard_app.project.story import import_story

    reference = tmp_path / "face.png"
    reference.write_bytes(png_bytes("blue"))
    script = StoryScript(
        title="t",
        settings={},
        characters=(CharacterSpec(name="Mara", description="red hair", reference_image=reference),),
        scenes=(SceneSpec(prompt=""),),
    )
    with pytest.raises(ValidationError):
        import_story(store, script)
    assert list((store.folder / "media").rglob("*.png")) == []
    assert store.characters.list() == []


SCRIPT = "[Mara] a woman with red hair\n\n[Mara] climbs the stairs\n[NC] the sea at night\n"


def write_script(folder: Path) -> Path:
    script = folder / "story.txt"
    script.write_text(SCRIPT)
    return script


@pytest.mark.parametrize(
    "command",
    [
        ["transition", "--between", "1", "2", "--kind", "crossfade"],
        ["add-scene", "[NC] dawn"],
        ["export-script", "-o", "{out}"],
        ["render", "--model", "tiny", "--size", "64x64", "--steps", "1"],
    ],
    ids=lambda c: c[0],
)
def test_commands_on_a_full_disk_say_so_instead_of_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        assert run_cli(capsys, "new", disk / "p", "--from", write_script(tmp_path))[0] == 0
        project = disk / "p.storyboard"
        before = folder_digest(project)
        fill_disk(disk)
        args = [a.replace("{out}", str(disk / "story.toml")) for a in command]
        code, _, err = run_cli(capsys, args[0], project, *args[1:])
        assert code == 1
        assert f"The disk holding {project} is full" in err or f"holding {disk} is full" in err
        assert "damaged" not in err and "Traceback" not in err
        (disk / "filler.bin").unlink()
        assert folder_digest(project) == before
        assert sorted(p.name for p in disk.iterdir()) == ["p.storyboard"]
        with ProjectStore.open(project) as store:
            assert store.integrity_check() == ["ok"]


def test_an_edit_that_finds_the_disk_full_is_refused_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        assert run_cli(capsys, "new", disk / "p", "--from", write_script(tmp_path))[0] == 0
        project = disk / "p.storyboard"
        with ProjectStore.open(project) as editor:  # an open editor keeps the -shm file
            fill_disk(disk)
            big = "x" * 200_000
            code, _, err = run_cli(capsys, "add-scene", project, f"[NC] {big}")
            assert code == 1
            assert f"The disk holding {project} is full" in err and "Traceback" not in err
            (disk / "filler.bin").unlink()
            assert [s.prompt for s in editor.scenes.list()] == [
                "[Mara] climbs the stairs",
                "the sea at night",
            ]
            assert editor.integrity_check() == ["ok"]


def test_new_on_a_full_disk_leaves_nothing_and_a_retry_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path)
    with small_disk(tmp_path / "disk") as disk:
        filler = fill_disk(disk)
        for args in (["new", disk / "empty"], ["new", disk / "story", "--from", script]):
            code, _, err = run_cli(capsys, *args)
            assert code == 1, err
            assert "is full" in err and "MB free); free space and try again" in err
            assert "Traceback" not in err
            assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]
        filler.unlink()
        assert run_cli(capsys, "new", disk / "story", "--from", script)[0] == 0
        with ProjectStore.open(disk / "story.storyboard") as store:
            assert store.info().scene_count == 2


KILLED_NEW = """
import os, signal, sys
from storyboard_app.cli import main
from storyboard_app.project import story

real_import = story.import_story

def import_then_die(store, *args, **kwargs):
    real_import(store, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # killed after the import, before the project is ready

story.import_story = import_then_die
raise SystemExit(main(sys.argv[1:]))
"""


def test_a_killed_new_does_not_block_the_next_try(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    script, killer = write_script(tmp_path), tmp_path / "killed_new.py"
    killer.write_text(KILLED_NEW)
    work = tmp_path / "work"
    work.mkdir()
    child = subprocess.run(
        [sys.executable, str(killer), "new", str(work / "p"), "--from", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert not (work / "p.storyboard").exists()
    leftovers = list(work.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".p.storyboard.")
    code, _, err = run_cli(capsys, "new", work / "p", "--from", script)
    assert code == 0, err
    with ProjectStore.open(work / "p.storyboard") as store:
        assert store.info().scene_count == 2
    os.utime(leftovers[0], (1_000_000, 1_000_000))  # now a leftover from long ago
    assert run_cli(capsys, "new", work / "p")[0] == 1  # a real project is never replaced
    assert sorted(p.name for p in work.iterdir()) == ["p.storyboard"]


def test_new_into_an_existing_empty_folder_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.storyboard").mkdir()
    code, _, err = run_cli(capsys, "new", tmp_path / "p")
    assert code == 0, err
    with ProjectStore.open(tmp_path / "p.storyboard") as store:
        assert store.info().scene_count == 0


def test_a_read_only_project_can_be_read_and_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support import read_only_view

    folder = tmp_path / "shelf"
    folder.mkdir()
    with ProjectStore.create(folder / "p") as store:
        scene = store.scenes.add("[NC] the sea at night")
        store.takes.add(scene.id, png_bytes("red"), TakeParams(width=16, height=16))
        store.scenes.add("[NC] dawn")
    before = folder_digest(folder)
    out = tmp_path / "out"
    out.mkdir()
    with read_only_view(folder) as view:
        project = view / "p.storyboard"
        code, text, err = run_cli(capsys, "info", project)
        assert code == 0, err
        assert "2 (1 rendered)" in text
        assert run_cli(capsys, "scenes", project)[0] == 0
        code, _, err = run_cli(
            capsys, "export", project, "--pdf", out / "s.pdf", "--panels", out / "p"
        )
        assert code == 0, err
        assert (out / "s.pdf").stat().st_size > 0 and len(list((out / "p").iterdir())) == 2
        code, _, err = run_cli(capsys, "add-scene", project, "[NC] one more")
        assert code == 1
        assert "Cannot write to the project" in err and "Traceback" not in err
    assert folder_digest(folder) == before


def test_save_as_onto_a_full_disk_says_so_and_leaves_no_partial_copy(
    store: ProjectStore, tmp_path: Path
) -> None:
    from storyboard_app.project.errors import DiskFullError
    from storyboard_app.ui.project_files import duplicate_project

    long_story(store, panels=300)
    with small_disk(tmp_path / "disk", "256k") as disk:
        fill_disk(disk)
        with pytest.raises(DiskFullError, match="MB free"):
            duplicate_project(store.folder, disk / "copy")
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]


def test_a_transition_that_fills_the_disk_says_so_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        small_disk(tmp_path / "disk", "4m") as disk,
        ProjectStore.create(disk / "p") as store,  # stays open: the disk fills mid-job
    ):
        first, second = store.scenes.add("[NC] dawn"), store.scenes.add("[NC] dusk")
        for scene, color in ((first, "red"), (second, "blue")):
            store.takes.add(scene.id, png_bytes(color, (64, 64)), TakeParams(64, 64))
        before = folder_digest(store.folder)
        fill_disk(disk)
        code, _, err = run_cli(
            capsys, "transition", store.folder, "--between", "1", "2",
            "--kind", "crossfade", "--frames", "4",
        )  # fmt: skip
        assert code == 1
        assert f"The disk holding {store.folder} is full" in err and "Traceback" not in err
        (disk / "filler.bin").unlink()
        assert store.transitions.list() == []
        assert folder_digest(store.folder) == before
        assert sorted(p.name for p in (store.folder / "media").iterdir()) == sorted(
            {store.takes.get(s.active_take_id).media[:2] for s in store.scenes.list()}
        )


def test_a_database_linked_from_outside_the_project_is_refused(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.close()
    elsewhere = tmp_path / "elsewhere.sqlite"
    (store.folder / "project.sqlite").rename(elsewhere)
    (store.folder / "project.sqlite").symlink_to(elsewhere)
    before = folder_digest(tmp_path)
    code, _, err = run_cli(capsys, "add-scene", store.folder, "[NC] the sea")
    assert code == 1
    assert OUTSIDE_MESSAGE in err and "Traceback" not in err
    assert folder_digest(tmp_path) == before


@pytest.mark.parametrize("output", ["--pdf", "--cbz", "--panels"])
def test_an_export_onto_a_full_disk_says_so_and_leaves_no_partial_file(
    store: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    scene = store.scenes.add("[NC] the sea")
    store.takes.add(scene.id, png_bytes("red", (256, 256)), TakeParams(width=256, height=256))
    with small_disk(tmp_path / "disk") as disk:
        fill_disk(disk)
        target = disk / {"--pdf": "s.pdf", "--cbz": "s.cbz", "--panels": "stills"}[output]
        code, _, err = run_cli(capsys, "export", store.folder, output, target)
        assert code == 1
        assert f"The disk holding {disk} is full" in err and "Traceback" not in err
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]
