"""The project store: round trips, ordering, takes and transitions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import png_bytes

from storyboard_app.project import schema
from storyboard_app.project.characters import DEFAULT_IDENTITY_FRAMINGS, identity_framings
from storyboard_app.project.errors import NotFoundError, ProjectExistsError, ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.settings import AUTO_SIZE, ProjectSettings
from storyboard_app.project.store import ProjectStore, project_folder


def test_create_adds_suffix_and_media_folder(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "My_Story") as store:
        assert store.folder == tmp_path / "My_Story.storyboard"
        assert (store.folder / "media").is_dir()
        assert store.name == "My Story"


def test_database_uses_wal_and_foreign_keys(store: ProjectStore) -> None:
    with store.session() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_settings_round_trip_through_reopen(tmp_path: Path) -> None:
    wanted = ProjectSettings(width=768, height=512, steps=12, guidance=7.5, base_seed=99)
    wanted = wanted.with_changes(
        sampling_rate=0.3,
        window_size=3,
        blocks=("up_blocks.0",),
        share_between_panels=True,
        freeu="on",
    )
    with ProjectStore.create(tmp_path / "s", settings=wanted):
        pass
    with ProjectStore.open(tmp_path / "s.storyboard") as store:
        assert store.settings() == wanted


def test_invalid_settings_are_refused(store: ProjectStore) -> None:
    with pytest.raises(ValidationError, match="multiple of 8"):
        store.update_settings(width=1000 + 1)
    with pytest.raises(ValidationError, match="between 0 and 1"):
        store.update_settings(sampling_rate=1.5)
    with pytest.raises(ValidationError, match="Unknown setting"):
        store.update_settings(colour="blue")
    with pytest.raises(ValidationError, match="freeu=on or freeu=off"):
        store.update_settings(freeu="maybe")
    assert store.settings() == ProjectSettings()


def test_size_defaults_to_the_models_native_size(store: ProjectStore) -> None:
    """Unset (auto, stored as 0): SDXL renders at 1024 px, SD 1.5 at 512 px."""
    settings = store.settings()
    assert (settings.width, settings.height) == (AUTO_SIZE, AUTO_SIZE)
    assert settings.render_size("sdxl") == (1024, 1024)
    assert settings.render_size("sd15") == (512, 512)
    assert settings.render_size() == (1024, 1024)
    settings = store.update_settings(width=768)
    assert settings.render_size("sd15") == (768, 512)


def test_characters_round_trip(story_store: ProjectStore, tmp_path: Path) -> None:
    mara = story_store.characters.get("Mara")
    assert mara.position == 0
    assert mara.color.startswith("#")
    folder = story_store.folder
    story_store.close()
    with ProjectStore.open(folder) as reopened:
        assert [c.name for c in reopened.characters.list()] == ["Mara", "Bob"]
        assert reopened.characters.get("Mara") == mara


def test_undoing_a_character_deletion_keeps_its_reference_strength_and_ip_adapter(
    story_store: ProjectStore,
) -> None:
    from storyboard_app.project.undo_support import restore_character, snapshot_character

    story_store.characters.update(
        "Mara", reference_strength=0.3, ip_adapter="sdxl-plus-face", ip_adapter_scale=0.9
    )
    before = story_store.characters.get("Mara")
    snapshot = snapshot_character(story_store, before.id)
    story_store.characters.delete("Mara")
    restore_character(story_store, snapshot)
    assert story_store.characters.get("Mara") == before


def test_duplicate_character_name_is_refused_case_insensitively(story_store: ProjectStore) -> None:
    with pytest.raises(ValidationError, match="already exists"):
        story_store.characters.add("mara", "someone else")
    assert len(story_store.characters.list()) == 2


def test_character_name_rules(store: ProjectStore) -> None:
    for bad in ("", "  ", "NC", "a[b]", "x#y"):
        with pytest.raises(ValidationError):
            store.characters.add(bad, "a person")
    with pytest.raises(ValidationError, match="description of Ann is empty"):
        store.characters.add("Ann", "   ")
    with pytest.raises(ValidationError, match="not a colour"):
        store.characters.add("Ann", "a person", color="red")


def test_renaming_a_character_rewrites_tags(story_store: ProjectStore) -> None:
    story_store.characters.update("Mara", name="Mira")
    prompts = [s.prompt for s in story_store.scenes.list()]
    assert prompts[0] == "[Mira] climbs the lighthouse stairs"
    assert story_store.scenes.at(3).character_names == ("Mira", "Bob")


def test_scene_characters_come_from_tags_and_list(story_store: ProjectStore) -> None:
    scene = story_store.scenes.add("two figures on the pier", characters=["Bob", "Mara"])
    assert scene.character_names == ("Mara", "Bob")
    assert story_store.scenes.at(4).character_names == ()


def test_scene_with_unknown_character_is_refused(story_store: ProjectStore) -> None:
    with pytest.raises(NotFoundError, match="no character 'Zed'"):
        story_store.scenes.add("[Zed] appears")
    assert len(story_store.scenes.list()) == 4


def test_nc_with_characters_is_refused(story_store: ProjectStore) -> None:
    with pytest.raises(ValidationError, match=r"\[NC\]"):
        story_store.scenes.add("[NC] [Mara] on the beach")


def test_empty_prompt_is_refused(story_store: ProjectStore) -> None:
    for prompt in ("", "   ", "[NC]"):
        with pytest.raises(ValidationError, match="prompt of panel"):
            story_store.scenes.add(prompt)


def test_insert_scene_renumbers(story_store: ProjectStore) -> None:
    story_store.scenes.add("[NC] the lamp flickers", position=1)
    assert [s.position for s in story_store.scenes.list()] == [0, 1, 2, 3, 4]
    assert story_store.scenes.at(2).prompt == "[NC] the lamp flickers"


def test_inserting_and_deleting_keep_positions_dense_even_from_gapped_ones(
    story_store: ProjectStore,
) -> None:
    """Dense positions move by one statement; positions another tool left with gaps or
    twins are numbered again, in story order."""
    prompts = [s.prompt for s in story_store.scenes.list()]
    lamp = story_store.scenes.add("[NC] the lamp flickers", position=2)
    story_store.scenes.delete(story_store.scenes.at(1).id)
    expected = [prompts[1], lamp.prompt, *prompts[2:]]
    assert [s.prompt for s in story_store.scenes.list()] == expected
    assert [s.position for s in story_store.scenes.list()] == list(range(len(expected)))
    with sqlite3.connect(story_store.folder / "project.sqlite") as db:
        db.execute("UPDATE scenes SET position = position * 10")  # gaps, as another tool might
        db.execute("UPDATE scenes SET position = 20 WHERE position = 30")  # and twins
    gull = story_store.scenes.add("[NC] a gull", position=1)
    scenes = story_store.scenes.list()
    assert [s.position for s in scenes] == list(range(len(expected) + 1))
    assert [s.prompt for s in scenes] == [expected[0], gull.prompt, *expected[1:]]
    story_store.scenes.delete(gull.id)
    assert [s.prompt for s in story_store.scenes.list()] == expected


def test_seeds_are_derived_reproducibly(tmp_path: Path) -> None:
    seeds = []
    for name in ("a", "b"):
        with ProjectStore.create(tmp_path / name) as store:
            store.characters.add("Mara", "a woman")
            store.scenes.add("[Mara] waves")
            seeds.append((store.characters.get("Mara").seed, store.scenes.at(1).seed))
    assert seeds[0] == seeds[1]


def test_takes_keep_history_and_active_choice(story_store: ProjectStore) -> None:
    scene = story_store.scenes.at(1)
    params = TakeParams(width=16, height=16, seed=1, steps=4, prompt="p", consistency={"r": 0.5})
    first = story_store.takes.add(scene.id, png_bytes("red"), params)
    second = story_store.takes.add(scene.id, png_bytes("blue"), params)
    assert story_store.scenes.get(scene.id).active_take_id == second.id
    story_store.takes.set_active(scene.id, first.id)
    assert story_store.scenes.get(scene.id).active_take_id == first.id
    assert story_store.takes.active_image(scene.id) == png_bytes("red")
    assert [t.id for t in story_store.takes.list(scene.id)] == [first.id, second.id]
    assert story_store.takes.get(first.id).params == params
    story_store.takes.delete(first.id)
    assert story_store.scenes.get(scene.id).active_take_id == second.id


def test_take_of_another_scene_cannot_be_made_active(story_store: ProjectStore) -> None:
    one, two = story_store.scenes.at(1), story_store.scenes.at(2)
    take = story_store.takes.add(one.id, png_bytes(), TakeParams(width=16, height=16))
    with pytest.raises(ValidationError, match="another panel"):
        story_store.takes.set_active(two.id, take.id)


def test_deleting_a_scene_removes_its_takes(story_store: ProjectStore) -> None:
    scene = story_store.scenes.at(1)
    story_store.takes.add(scene.id, png_bytes(), TakeParams(width=16, height=16))
    story_store.scenes.delete(scene.id)
    assert story_store.info().take_count == 0
    assert [s.position for s in story_store.scenes.list()] == [0, 1, 2]


def test_move_scene_marks_only_broken_transitions_stale(story_store: ProjectStore) -> None:
    s1, s2, s3, s4 = story_store.scenes.list()
    story_store.transitions.set(s1.id, s2.id, kind="crossfade", duration=0.5)
    t34 = story_store.transitions.set(s3.id, s4.id, kind="morph", duration=1.0)
    story_store.transitions.set_result(t34.id, "ready")
    stale = story_store.scenes.move(s1.id, 2)  # order now 2, 3, 1, 4
    assert stale == [t34.id]
    assert [s.id for s in story_store.scenes.list()] == [s2.id, s3.id, s1.id, s4.id]
    fade, morph = story_store.transitions.list()
    assert (fade.from_scene_id, fade.to_scene_id, fade.kind) == (s1.id, s4.id, "crossfade")
    assert (morph.from_scene_id, morph.to_scene_id, morph.status) == (s3.id, s4.id, "stale")
    stale = story_store.scenes.move(s1.id, 0)  # back to 1, 2, 3, 4
    assert stale == []
    fade, morph = story_store.transitions.list()
    assert (fade.from_scene_id, fade.to_scene_id) == (s1.id, s2.id)
    # The morph's frames fit again: the same panels, neighbours, showing the same pictures.
    assert morph.status == "ready"


def test_move_keeps_adjacent_transitions(story_store: ProjectStore) -> None:
    s1, s2, _, s4 = story_store.scenes.list()
    t12 = story_store.transitions.set(s1.id, s2.id, kind="crossfade")
    story_store.scenes.move(s4.id, 2)  # order 1, 2, 4, 3
    assert story_store.transitions.get(t12.id).status == "pending"


def test_inserting_between_neighbours_keeps_a_crossfade_and_stales_a_morph(
    story_store: ProjectStore,
) -> None:
    s1, s2, s3, _ = story_store.scenes.list()
    t12 = story_store.transitions.set(s1.id, s2.id, kind="crossfade")
    t23 = story_store.transitions.set(s2.id, s3.id, kind="morph")
    story_store.transitions.set_result(t23.id, "ready")
    gulls = story_store.scenes.add("[NC] gulls", position=1)
    assert story_store.transitions.get(t12.id).to_scene_id == gulls.id
    story_store.scenes.add("[NC] waves", position=3)  # between panels 2 and 3
    assert story_store.transitions.get(t23.id).status == "stale"


def test_transition_needs_neighbours(story_store: ProjectStore) -> None:
    s1, _, s3, _ = story_store.scenes.list()
    with pytest.raises(ValidationError, match="not neighbours"):
        story_store.transitions.set(s1.id, s3.id)
    with pytest.raises(ValidationError, match="not a transition kind"):
        story_store.transitions.set(s1.id, story_store.scenes.at(2).id, kind="wipe")


def test_transition_result_records_frames(story_store: ProjectStore) -> None:
    s1, s2, *_ = story_store.scenes.list()
    transition = story_store.transitions.set(s1.id, s2.id, kind="morph", frame_count=2)
    frames = [story_store.media.put_image_bytes(png_bytes(c)) for c in ("red", "blue")]
    done = story_store.transitions.set_result(transition.id, "ready", frames)
    assert done.media == tuple(frames)
    assert done.frame_count == 2


def test_deleting_a_scene_deletes_its_transitions(story_store: ProjectStore) -> None:
    s1, s2, *_ = story_store.scenes.list()
    story_store.transitions.set(s1.id, s2.id, kind="crossfade")
    story_store.scenes.delete(s2.id)
    assert story_store.transitions.list() == []


def test_create_refuses_existing_folder(store: ProjectStore) -> None:
    with pytest.raises(ProjectExistsError, match="already exists"):
        ProjectStore.create(store.folder)


def test_project_folder_accepts_database_path(tmp_path: Path) -> None:
    assert project_folder(tmp_path / "x.storyboard" / "project.sqlite") == tmp_path / "x.storyboard"


def test_info_counts(story_store: ProjectStore) -> None:
    info = story_store.info()
    assert (info.character_count, info.scene_count, info.take_count) == (2, 4, 0)
    assert info.total_duration == pytest.approx(8.0)
    assert info.schema_revision == schema.head_revision()


def test_integrity_check_of_new_project(store: ProjectStore) -> None:
    assert store.integrity_check() == ["ok"]
    raw = sqlite3.connect(store.folder / "project.sqlite")
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


def test_identity_framings_belong_to_the_character(story_store: ProjectStore) -> None:
    mara = story_store.characters.get("Mara")
    assert mara.identity_framings == ()  # the defaults
    assert identity_framings(mara) == DEFAULT_IDENTITY_FRAMINGS
    updated = story_store.characters.update(
        "Mara", identity_framings="  profile view \n\nfull body, running\n"
    )
    assert updated.identity_framings == ("profile view", "full body, running")
    assert story_store.characters.get("Mara") == updated
    reset = story_store.characters.update("Mara", identity_framings=DEFAULT_IDENTITY_FRAMINGS)
    assert reset.identity_framings == ()
    bob = story_store.characters.add("Ann", "a girl", identity_framings=["waving"])
    assert bob.identity_framings == ("waving",)
    with pytest.raises(ValidationError, match="at most 8"):
        story_store.characters.update("Mara", identity_framings=[f"f{i}" for i in range(9)])
    with pytest.raises(ValidationError, match="too long"):
        story_store.characters.update("Mara", identity_framings=["x" * 301])
    assert story_store.characters.get("Mara").identity_framings == ()
