"""Issue #11.2: a morph or motion records the takes it was made from, and is stale (plays
as a cut) once either panel shows another picture; the schema upgrade keeps old ones fresh."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
from alembic import command
from sqlalchemy import create_engine
from support import png_bytes

from storyboard_app.engine.transitions.job import generate_transition
from storyboard_app.export import export_editorial
from storyboard_app.project import schema
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.story import export_story
from storyboard_app.project.timeline import build_timeline

PARAMS = TakeParams(width=16, height=16, source="imported")


def rendered(store: ProjectStore, count: int) -> list[int]:
    """``count`` panels, each with one take; their scene ids."""
    ids = []
    for index in range(count):
        scene = store.scenes.add(f"[NC] beat {index}", duration=1.0)
        store.takes.add(scene.id, png_bytes(("red", "blue", "green")[index % 3]), PARAMS)
        ids.append(scene.id)
    return ids


def statuses(store: ProjectStore) -> list[str]:
    return [t.status for t in store.transitions.list()]


def test_another_take_or_a_new_render_makes_a_morph_stale(store: ProjectStore) -> None:
    first, second, third = rendered(store, 3)
    morph = generate_transition(store, first, second, "morph", 4)
    store.transitions.set(second, third, kind="crossfade", duration=0.5)
    old_take = store.scenes.get(second).active_take_id
    assert (morph.from_take_id, morph.to_take_id) == (
        store.scenes.get(first).active_take_id,
        old_take,
    )
    assert statuses(store) == ["ready", "pending"]

    new_take = store.takes.add(second, png_bytes("white"), PARAMS)  # a re-render
    assert statuses(store) == ["stale", "pending"]  # a crossfade needs no frames
    timeline = build_timeline(store)
    assert [t.kind for t in timeline.transitions] == ["crossfade"]
    assert [(t.kind, t.status) for t in timeline.as_cuts] == [("morph", "stale")]
    assert store.info().stale_transition_count == 1

    store.takes.set_active(second, old_take)  # the picture the frames were made from
    assert statuses(store)[0] == "ready"
    store.takes.set_active(first, store.takes.add(first, png_bytes("black"), PARAMS).id)
    assert statuses(store)[0] == "stale"
    store.takes.set_active(first, morph.from_take_id)
    store.takes.delete(new_take.id)
    assert statuses(store)[0] == "ready"

    regenerated = generate_transition(store, first, second, "morph", 4)
    assert regenerated.status == "ready"


def test_editorial_exports_play_a_stale_morph_as_a_cut(store: ProjectStore, tmp_path: Path) -> None:
    first, second = rendered(store, 2)
    generate_transition(store, first, second, "morph", 4)
    store.takes.add(first, png_bytes("white"), PARAMS)
    result = export_editorial(store, tmp_path / "cut.otio", "otio")
    (track,) = otio.adapters.read_from_file(str(result.path)).video_tracks()
    assert not [item for item in track if isinstance(item, otio.schema.Transition)]
    assert track.duration().to_frames() == 48


def downgrade(folder: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{folder / 'project.sqlite'}")
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), revision)
    engine.dispose()


def test_the_upgrade_keeps_transitions_and_finds_their_takes(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "old") as store:
        first, second, third = rendered(store, 3)
        made = generate_transition(store, first, second, "morph", 4)
        fade = generate_transition(store, second, third, "crossfade", 3)
        store.takes.add(third, png_bytes("white"), PARAMS)
        before = store.transitions.list()
        folder = store.folder
    downgrade(folder, "0004")
    with ProjectStore.open(folder) as store:
        assert store.schema_revision() == schema.head_revision()
        after = store.transitions.list()
        assert after == before
        assert (after[0].from_take_id, after[0].to_take_id) == (made.from_take_id, made.to_take_id)
        assert after[1].media == fade.media and after[1].settings == fade.settings
        assert statuses(store) == ["ready", "ready"]
        store.takes.add(second, png_bytes("black"), PARAMS)
        assert statuses(store) == ["stale", "ready"]


def test_export_script_keeps_a_stale_morph_as_the_kind_chosen(store: ProjectStore) -> None:
    first, second = rendered(store, 2)
    generate_transition(store, first, second, "morph", 4)
    store.takes.add(second, png_bytes("white"), PARAMS)
    assert statuses(store) == ["stale"]
    spec = export_story(store).scenes[0].transition_to_next
    assert spec is not None and (spec.kind, spec.frames) == ("morph", 4)
