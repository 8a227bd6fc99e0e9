"""Schema migrations and the version check on open."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from support import RED

from storyboard_app.project import schema
from storyboard_app.project.errors import ProjectTooNewError
from storyboard_app.project.models import Base
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore


def make_version_0001_project(folder: Path) -> Path:
    """A project as the first schema wrote it, with a character, two scenes and a take."""
    folder.mkdir()
    (folder / "media").mkdir()
    database = folder / "project.sqlite"
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0001")
        connection.execute(
            text(
                "INSERT INTO project_settings (id, name, model_source, width, height, steps, "
                "guidance, scheduler, style_preset, base_seed, sampling_rate, "
                "sampling_rate_high_res, window_size, identity_images, consistency_blocks, "
                "created_at) VALUES (1, 'Old story', '', 512, 512, 20, 6.0, 'euler', '', 7, "
                "0.4, 0.6, 4, 2, 'up_blocks', '2025-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO characters (id, name, description, negative_prompt, seed, color, "
                "position) VALUES (1, 'Mara', 'a woman in a raincoat', '', 5, '#4e79a7', 0)"
            )
        )
        for position in range(2):
            connection.execute(
                text(
                    "INSERT INTO scenes (id, position, duration, prompt, negative_prompt, "
                    "caption, notes, shot_type, seed, seed_locked) VALUES "
                    f"({position + 1}, {position}, 2.0, '[Mara] panel {position}', '', '', '', "
                    f"'', {position}, 0)"
                )
            )
            connection.execute(text(f"INSERT INTO scene_characters VALUES ({position + 1}, 1)"))
    engine.dispose()
    return database


def test_models_match_migrations(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    with engine.begin() as connection:
        schema.upgrade(connection)
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_revisions_are_linear() -> None:
    assert schema.known_revisions() == [f"{n:04d}" for n in range(1, 19)]
    assert schema.head_revision() == "0018"


def test_old_project_is_migrated_with_data_kept(tmp_path: Path) -> None:
    folder = tmp_path / "old.storyboard"
    database = make_version_0001_project(folder)
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
        assert store.name == "Old story"
        settings = store.settings()
        assert (settings.width, settings.frame_rate) == (512, 24)
        assert settings.consistency.sampling_rate == pytest.approx(0.4)
        assert settings.consistency.share_between_panels is False
        assert (settings.identity_cache_precision, settings.identity_cache_budget_gb) == (
            "fp16",
            20.0,
        )
        assert (settings.width, settings.height, settings.freeu) == (512, 512, "off")
        scenes = store.scenes.list()
        assert [s.prompt for s in scenes] == ["[Mara] panel 0", "[Mara] panel 1"]
        assert scenes[0].character_names == ("Mara",)
        transition = store.transitions.set(scenes[0].id, scenes[1].id, kind="crossfade")
        assert transition.status == "pending"
        assert store.integrity_check() == ["ok"]
    backups = list(folder.glob(f"project.sqlite.before-{schema.head_revision()}-from-0001*.bak"))
    assert len(backups) == 1
    assert database.exists()


def test_newer_project_is_refused_untouched(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "new") as store:
        store.characters.add("Mara", "a woman")
        folder = store.folder
    database = folder / "project.sqlite"
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    with pytest.raises(ProjectTooNewError, match="newer version") as caught:
        ProjectStore.open(folder)
    assert "Update Storyboard" in caught.value.hint
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    # A read-only look at a WAL database may leave an empty -wal/-shm pair; nothing else.
    leftovers = {p.name for p in folder.iterdir()} - {"media", "project.sqlite"}
    assert leftovers <= {"project.sqlite-wal", "project.sqlite-shm"}
    wal = folder / "project.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_upgrade_from_0004_keeps_takes_and_records_freeu_off(tmp_path: Path) -> None:
    folder = tmp_path / "v4.storyboard"
    database = make_version_0001_project(folder)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0004")
        connection.execute(text("UPDATE project_settings SET share_between_panels = 1"))
        connection.execute(
            text(
                "INSERT INTO takes (id, scene_id, media, source, model_source, seed, steps, "
                "guidance, width, height, scheduler, prompt, negative_prompt, consistency_json, "
                "identity_fingerprint, created_at) VALUES (1, 1, 'take.png', 'rendered', 'tiny', "
                "5, 20, 6.0, 512, 512, 'euler_a', 'a woman', '', '{\"window_size\": 4}', 'abc', "
                "'2025-01-01 00:00:00')"
            )
        )
    engine.dispose()
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
        assert store.settings().consistency.share_between_panels is True
        assert store.settings().freeu == "off"
        params = store.takes.get(1).params
        assert (params.scheduler, params.seed, params.prompt) == ("euler_a", 5, "a woman")
        assert params.consistency == {"window_size": 4}
        assert params.freeu == "off"
        assert (store.settings().style, params.style) == ("none", "none")


def test_upgrade_from_0007_keeps_characters_with_the_default_framings(tmp_path: Path) -> None:
    folder = tmp_path / "v7.storyboard"
    database = make_version_0001_project(folder)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0007")
    engine.dispose()
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
        mara = store.characters.get("Mara")
        assert (mara.description, mara.seed, mara.color) == ("a woman in a raincoat", 5, "#4e79a7")
        assert mara.identity_framings == ()
        assert mara.reference_strength == 1.0
        assert (mara.ip_adapter, mara.ip_adapter_scale) == ("", 0.6)
        store.characters.update("Mara", identity_framings=["profile view"])
        assert store.characters.get("Mara").identity_framings == ("profile view",)


def test_upgrade_from_0011_keeps_captions_as_narration_and_adds_empty_dialogue(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "v11.storyboard"
    database = make_version_0001_project(folder)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0011")
        connection.execute(text("UPDATE scenes SET caption = 'Rain again.' WHERE id = 1"))
    engine.dispose()
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
        first = store.scenes.at(1)
        assert (first.caption, first.dialogue) == ("Rain again.", "")
        store.scenes.update(first.id, dialogue="Mara: Not again!")
        assert store.scenes.at(1).dialogue == "Mara: Not again!"


def test_upgrade_from_0014_numbers_takes_per_panel_in_order_made(tmp_path: Path) -> None:
    folder = tmp_path / "v14.storyboard"
    database = make_version_0001_project(folder)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0014")
        for take_id, scene_id in ((1, 1), (2, 2), (3, 1), (4, 1)):
            connection.execute(
                text(
                    "INSERT INTO takes (id, scene_id, media, source, model_source, seed, steps, "
                    "guidance, width, height, scheduler, prompt, negative_prompt, "
                    "consistency_json, identity_fingerprint, created_at) VALUES "
                    f"({take_id}, {scene_id}, 't{take_id}.png', 'rendered', 'tiny', {take_id}, "
                    "20, 6.0, 512, 512, 'euler', 'p', '', '{}', '', '2025-01-01 00:00:00')"
                )
            )
        connection.execute(text("UPDATE scenes SET active_take_id = 3 WHERE id = 1"))
    engine.dispose()
    with ProjectStore.open(folder) as store:
        first, second = store.scenes.list()
        assert [t.label for t in store.takes.list(first.id)] == ["Take 1", "Take 2", "Take 3"]
        assert [t.number for t in store.takes.list(second.id)] == [1]
        assert first.active_take_id == 3 and first.take_picked is False
        assert first.character_names == ("Mara",), "the cast links survive the migration"


def test_projects_from_before_the_shot_setting_keep_their_prompts(tmp_path: Path) -> None:
    folder = tmp_path / "v15.storyboard"
    database = make_version_0001_project(folder)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        schema.upgrade(connection, "0015")
    engine.dispose()
    with ProjectStore.open(folder) as store:
        assert store.settings().shot_in_prompt is False
    with ProjectStore.create(tmp_path / "new.storyboard") as fresh:
        assert fresh.settings().shot_in_prompt is True


def test_a_new_project_keeps_panel_revisions_by_trigger(tmp_path: Path) -> None:
    """The triggers (migrations 0017, 0018) move a panel's revision on any edit, cast change
    or take, whoever writes (here raw SQL, as another tool would); a later migration that
    rebuilds one of these tables must make them again, and this test says so."""
    with ProjectStore.create(tmp_path / "story") as store:
        store.characters.add("Mara", "red hair")
        store.characters.add("Bob", "a beard")
        first = store.scenes.add("[Mara] walks")
        second = store.scenes.add("[Bob] waits")
    database = tmp_path / "story.storyboard" / "project.sqlite"
    engine = create_engine(f"sqlite:///{database}")

    def revisions() -> dict[int, int]:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT id, revision FROM scenes")).all())

    start = revisions()

    def raw(statement: str) -> None:
        with engine.begin() as connection:
            connection.execute(text(statement), {"first": first.id, "second": second.id})

    def new_take() -> None:
        with ProjectStore.open(tmp_path / "story.storyboard") as store:
            store.takes.add(second.id, RED, TakeParams(width=1, height=1, seed=1))

    steps = [
        (lambda: raw("UPDATE scenes SET caption = 'x' WHERE id = :first"), {first.id}),
        (lambda: raw("INSERT INTO scene_characters VALUES (:first, 2)"), {first.id}),
        (lambda: raw("DELETE FROM scene_characters WHERE scene_id = :second"), {second.id}),
        (new_take, {second.id}),
        (lambda: raw("DELETE FROM takes WHERE scene_id = :second"), {second.id}),
    ]
    for number, (write, bumped) in enumerate(steps):
        write()
        now = revisions()
        assert {i for i in now if now[i] != start[i]} == bumped, number
        start = now
    engine.dispose()


def test_the_upgrade_to_the_story_clock_numbers_panels_past_nothing_seen(tmp_path: Path) -> None:
    """From 0017 (a counter per panel), every panel gets a distinct revision in story order
    and the clock starts at the last; the next change of any panel goes past it."""
    with ProjectStore.create(tmp_path / "story") as store:
        ids = [store.scenes.add(f"[NC] panel {n}").id for n in range(3)]
        store.scenes.move(ids[2], 0)
        folder = store.folder
    database = folder / "project.sqlite"
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "0017")
    engine.dispose()
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
    engine = create_engine(f"sqlite:///{database}")

    def read() -> tuple[list[tuple[int, int]], int]:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, revision FROM scenes ORDER BY position"))
            clock = connection.execute(text("SELECT value FROM story_clock")).scalar_one()
            return [tuple(row) for row in rows], clock

    numbered, clock = read()
    assert numbered == [(ids[2], 1), (ids[0], 2), (ids[1], 3)] and clock == 3
    with engine.begin() as connection:
        connection.execute(text("UPDATE scenes SET caption = 'x' WHERE id = :id"), {"id": ids[0]})
    assert dict(read()[0])[ids[0]] == 4 and read()[1] == 4
    engine.dispose()
