"""Every kind of edit is applied at once, undone, and redone to the same database state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import EXAMPLES, png_bytes

from storyboard_app.project.errors import ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.scenes import SceneRepository
from storyboard_app.project.scripts.io import load_story_script
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.commands.characters import (
    AddCharacterCommand,
    DeleteCharacterCommand,
    EditCharacterCommand,
    MoveCharacterCommand,
)
from storyboard_app.ui.commands.project import ChangeSettingsCommand, ImportStoryCommand
from storyboard_app.ui.commands.scenes import (
    AddSceneCommand,
    DeleteScenesCommand,
    EditSceneCommand,
    MoveScenesCommand,
    moved_order,
)
from storyboard_app.ui.commands.takes import (
    DeleteTakeCommand,
    ImportImagesCommand,
    SetActiveTakeCommand,
)
from storyboard_app.ui.project_session import ProjectSession


@pytest.fixture
def session(qapp: Any, story_store: ProjectStore) -> ProjectSession:
    return ProjectSession(story_store)


def state(store: ProjectStore) -> tuple[Any, ...]:
    """Everything an edit may touch, comparable between before, undo and redo."""
    scenes = store.scenes.list()
    takes = [store.takes.list(scene.id) for scene in scenes]
    return (
        store.characters.list(),
        scenes,
        [[(t.id, t.media) for t in scene_takes] for scene_takes in takes],
        store.transitions.list(),
        store.settings(),
        store.loras.list(),
    )


def check_undo_redo(session: ProjectSession, command: Any) -> tuple[Any, Any]:
    before = state(session.store)
    assert session.execute(command)
    after = state(session.store)
    assert after != before
    session.undo_stack.undo()
    assert state(session.store) == before
    session.undo_stack.redo()
    assert state(session.store) == after
    return before, after


def add_take(store: ProjectStore, scene_id: int, color: str = "red") -> int:
    return store.takes.add(scene_id, png_bytes(color), TakeParams(width=16, height=16)).id


def test_character_edits_undo_and_redo(session: ProjectSession) -> None:
    store = session.store
    mara = store.characters.get("Mara")
    check_undo_redo(session, AddCharacterCommand(session, "Cat", "a small grey cat"))
    check_undo_redo(session, EditCharacterCommand(session, mara.id, description="tall", seed=7))
    check_undo_redo(session, EditCharacterCommand(session, mara.id, name="Marta"))
    assert store.scenes.at(1).prompt.startswith("[Marta]")
    check_undo_redo(session, MoveCharacterCommand(session, mara.id, 2))


def test_reference_image_change_is_undone(session: ProjectSession, tmp_path: Path) -> None:
    image = tmp_path / "ref.png"
    image.write_bytes(png_bytes("blue"))
    mara = session.store.characters.get("Mara")
    check_undo_redo(session, EditCharacterCommand(session, mara.id, reference_image=image))


def test_deleting_a_character_is_undone_with_its_panels(session: ProjectSession) -> None:
    store = session.store
    bob = store.characters.get("Bob")
    check_undo_redo(session, DeleteCharacterCommand(session, bob.id))
    assert "Bob" not in store.scenes.at(3).character_names
    session.undo_stack.undo()
    assert store.scenes.at(3).character_names == ("Mara", "Bob")
    assert store.characters.get("Bob") == bob


def test_deleting_a_character_is_undone_with_its_loras(
    session: ProjectSession, tmp_path: Path
) -> None:
    from safetensors.numpy import save_file

    store = session.store
    for value, name in enumerate(("ink", "look")):
        weights = {"unet.x.lora_A.weight": np.full((2, 2), value, np.float32)}
        save_file(weights, tmp_path / f"{name}.safetensors")
    store.loras.add(tmp_path / "ink.safetensors", scale=0.7)
    store.loras.add(tmp_path / "look.safetensors", scale=0.8, trigger="sks", character="Mara")
    mara = store.characters.get("Mara")
    check_undo_redo(session, DeleteCharacterCommand(session, mara.id, untag_panels=True))
    assert [lora.name for lora in store.loras.list()] == ["ink"]
    session.undo_stack.undo()
    assert store.characters.get("Mara") == mara
    assert store.loras.list()[1].character == "Mara"


def test_scene_edits_undo_and_redo(session: ProjectSession) -> None:
    store = session.store
    first = store.scenes.at(1)
    check_undo_redo(session, AddSceneCommand(session, "[Bob] sleeps", position=1, caption="Zz"))
    check_undo_redo(session, EditSceneCommand(session, first.id, caption="New", duration=3.5))
    check_undo_redo(session, EditSceneCommand(session, first.id, prompt="[Mara] and [Bob] climb"))
    assert store.scenes.get(first.id).character_names == ("Mara", "Bob")
    session.undo_stack.undo()
    assert store.scenes.get(first.id).character_names == ("Mara",)
    session.undo_stack.redo()
    check_undo_redo(session, EditSceneCommand(session, first.id, seed=99, seed_locked=True))


def test_typing_in_one_field_merges_into_one_undo_step(session: ProjectSession) -> None:
    scene = session.store.scenes.at(1)
    for text in ("A", "Ab", "Abc"):
        session.execute(EditSceneCommand(session, scene.id, caption=text))
    assert session.undo_stack.count() == 1
    session.undo_stack.undo()
    assert session.store.scenes.get(scene.id).caption == scene.caption


def test_a_refused_edit_reports_and_stays_off_the_stack(session: ProjectSession) -> None:
    errors: list[Exception] = []
    session.errorRaised.connect(errors.append)
    scene = session.store.scenes.at(1)
    assert not session.execute(EditSceneCommand(session, scene.id, prompt="  "))
    assert isinstance(errors[0], ValidationError)
    assert session.undo_stack.count() == 0


def test_deleting_panels_is_undone_with_takes_and_transitions(session: ProjectSession) -> None:
    store = session.store
    scenes = store.scenes.list()
    take = add_take(store, scenes[1].id)
    store.transitions.set(scenes[1].id, scenes[2].id, kind="crossfade", duration=1.0)
    before, _ = check_undo_redo(session, DeleteScenesCommand(session, [scenes[1].id, scenes[3].id]))
    assert [s.id for s in store.scenes.list()] == [scenes[0].id, scenes[2].id]
    session.undo_stack.undo()
    assert state(store) == before
    assert store.scenes.get(scenes[1].id).active_take_id == take


def test_moving_panels_is_one_step_and_restores_transitions(session: ProjectSession) -> None:
    store = session.store
    ids = [scene.id for scene in store.scenes.list()]
    store.transitions.set(ids[0], ids[1], kind="crossfade", duration=1.0)
    check_undo_redo(session, MoveScenesCommand(session, [ids[0], ids[1]], 4))
    assert [s.id for s in store.scenes.list()] == [ids[2], ids[3], ids[0], ids[1]]


def test_moved_order_puts_the_block_before_the_drop_row() -> None:
    assert moved_order([1, 2, 3, 4], {1}, 4) == [2, 3, 4, 1]
    assert moved_order([1, 2, 3, 4], {4}, 0) == [4, 1, 2, 3]
    assert moved_order([1, 2, 3, 4], {2, 4}, 1) == [1, 2, 4, 3]
    assert moved_order([1, 2, 3, 4], {2}, 2) == [1, 2, 3, 4]


def test_take_choice_and_delete_are_undone(session: ProjectSession) -> None:
    store = session.store
    scene = store.scenes.at(1)
    first, second = add_take(store, scene.id, "red"), add_take(store, scene.id, "blue")
    check_undo_redo(session, SetActiveTakeCommand(session, scene.id, first))
    check_undo_redo(session, DeleteTakeCommand(session, second))


def test_an_undone_take_delete_survives_a_render_reusing_its_id(session: ProjectSession) -> None:
    store = session.store
    scene = store.scenes.at(1)
    take = add_take(store, scene.id)
    red = store.takes.get(take).media
    session.execute(DeleteTakeCommand(session, take))
    reused = add_take(store, scene.id, "green")
    assert reused == take

    session.undo_stack.undo()
    restored = session.take_aliases.resolve(take)
    assert restored != take and store.takes.get(restored).media == red
    assert store.scenes.get(scene.id).active_take_id == restored
    session.undo_stack.redo()
    assert [t.id for t in store.takes.list(scene.id)] == [reused]


def test_importing_images_fills_panels_then_adds_new_ones(
    session: ProjectSession, tmp_path: Path
) -> None:
    paths = []
    for index, color in enumerate(("red", "green", "blue")):
        paths.append(tmp_path / f"sketch{index}.png")
        paths[-1].write_bytes(png_bytes(color))
    store = session.store
    third = store.scenes.at(3)
    check_undo_redo(session, ImportImagesCommand(session, third.id, paths))
    scenes = store.scenes.list()
    assert len(scenes) == 5 and scenes[4].prompt == "[NC] sketch2"
    assert all(scene.active_take_id is not None for scene in scenes[2:])


def test_import_story_and_settings_are_undone(qapp: Any, store: ProjectStore) -> None:
    session = ProjectSession(store)
    store.scenes.add("[NC] the title card")
    script = load_story_script(EXAMPLES / "lighthouse_keeper.toml")
    check_undo_redo(session, ImportStoryCommand(session, script))
    assert len(store.scenes.list()) > 5 and store.transitions.list()
    settings = dataclasses.replace(session.store.settings(), steps=12, model_source="tiny")
    check_undo_redo(session, ChangeSettingsCommand(session, settings))


def test_a_failed_undo_is_reported_and_clears_the_history(
    qtbot: Any, session: ProjectSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = session.store.scenes.at(1)
    session.execute(EditSceneCommand(session, scene.id, caption="x"))
    errors: list[Exception] = []
    session.errorRaised.connect(errors.append)

    def read_only(*args: Any, **kwargs: Any) -> None:
        from storyboard_app.project.errors import ProjectReadOnlyError

        raise ProjectReadOnlyError("Cannot write to the project.", "Check permissions.")

    monkeypatch.setattr(session.store.scenes, "update", read_only)
    session.undo_stack.undo()
    assert "Cannot write" in str(errors[0])
    qtbot.waitUntil(lambda: session.undo_stack.count() == 0)


def test_typing_back_to_the_start_leaves_no_step_and_reads_no_panel(
    session: ProjectSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each keystroke's edit already returns the panel as stored; the merge compares that,
    not a fresh read (which cost a query per keystroke)."""
    scene = session.store.scenes.at(1)
    reads: list[int] = []
    read = SceneRepository.get
    monkeypatch.setattr(SceneRepository, "get", lambda *a, **k: (reads.append(1), read(*a, **k))[1])
    for text in ("A", "Ab", "A", scene.caption):
        session.execute(EditSceneCommand(session, scene.id, caption=text))
    assert session.undo_stack.count() == 0
    assert reads == []
    session.execute(EditSceneCommand(session, scene.id, caption="B"))
    assert session.undo_stack.count() == 1
