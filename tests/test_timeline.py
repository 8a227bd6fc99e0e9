"""Camera moves and the timeline every player and export reads."""

from __future__ import annotations

import pytest
from support import png_bytes

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.errors import ScriptError, ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.scripts.toml_format import dump_story_toml, parse_story_toml
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.story import export_story
from storyboard_app.project.timeline import build_timeline

ZOOM_IN = CameraMove(Framing(0.5, 0.5, 1.0), Framing(0.25, 0.75, 2.0), "linear")


def test_framing_crop_stays_inside_the_panel() -> None:
    assert Framing().crop_box(100, 50) == (0, 0, 100, 50)
    left, top, right, bottom = Framing(1.0, 0.0, 2.0).crop_box(100, 50)
    assert (left, top, right, bottom) == (50, 0, 100, 25)


def test_camera_move_interpolates_and_eases() -> None:
    assert ZOOM_IN.framing_at(0) == ZOOM_IN.start
    assert ZOOM_IN.framing_at(1) == ZOOM_IN.end
    middle = ZOOM_IN.framing_at(0.5)
    assert middle.center_x == pytest.approx(0.375)
    assert middle.zoom == pytest.approx(2**0.5)
    eased = CameraMove(ZOOM_IN.start, ZOOM_IN.end, "ease_in_out")
    assert eased.framing_at(0.1).center_x > ZOOM_IN.framing_at(0.1).center_x
    assert CameraMove.from_json(ZOOM_IN.to_json()) == ZOOM_IN


def test_bad_camera_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="zoom"):
        Framing(zoom=0.5)
    with pytest.raises(ValidationError, match="outside the panel"):
        Framing(center_x=1.5)
    with pytest.raises(ValidationError, match="easing"):
        CameraMove(easing="bounce")


def test_scene_camera_move_round_trips(story_store: ProjectStore) -> None:
    scene = story_store.scenes.at(1)
    story_store.scenes.update(scene.id, camera_move=ZOOM_IN)
    assert story_store.scenes.get(scene.id).camera_move == ZOOM_IN
    text = dump_story_toml(export_story(story_store))
    assert parse_story_toml(text).scenes[0].camera_move == ZOOM_IN
    story_store.scenes.update(scene.id, camera_move=None)
    assert story_store.scenes.get(scene.id).camera_move is None


def test_toml_camera_errors_have_positions() -> None:
    text = (
        '[[scenes]]\nprompt = "a field"\n'
        "camera = { start = { x = 0.5, zoom = 0.2 }, end = { x = 0.5 } }\n"
    )
    with pytest.raises(ScriptError, match="zoom") as caught:
        parse_story_toml(text)
    assert caught.value.line == 3


def test_timeline_places_panels_and_transitions(story_store: ProjectStore) -> None:
    story_store.update_settings(frame_rate=24)
    s1, s2, s3, _ = story_store.scenes.list()
    story_store.scenes.update(s1.id, duration=1.5)
    story_store.transitions.set(s1.id, s2.id, kind="crossfade", duration=0.5)
    story_store.transitions.set(s2.id, s3.id, kind="cut")
    take = story_store.takes.add(s2.id, png_bytes(), TakeParams(width=16, height=16))
    timeline = build_timeline(story_store)
    assert [c.frame_count for c in timeline.panels] == [36, 48, 48, 48]
    (fade,) = timeline.transitions
    assert (fade.kind, fade.cut_frame, fade.start_frame) == ("crossfade", 36, 30)
    assert fade.frame_count == 12
    assert timeline.total_frames == 180
    assert timeline.duration == pytest.approx(7.5)
    assert timeline.panels[1].media == take.media
    assert timeline.panels[0].media is None
    assert timeline.transition_at(40).kind == "crossfade"
    assert timeline.transition_at(42) is None
    assert timeline.panel_at(40).number == 2
    assert timeline.panel_at(180) is None


def test_stale_transitions_play_as_cuts(story_store: ProjectStore) -> None:
    s1, s2, *_ = story_store.scenes.list()
    story_store.transitions.set(s1.id, s2.id, kind="morph", duration=1.0)
    story_store.scenes.move(s1.id, 3)
    assert build_timeline(story_store).transitions == ()


def test_frame_boundaries_do_not_drift(store: ProjectStore) -> None:
    store.update_settings(frame_rate=24)
    for _ in range(30):
        store.scenes.add("[NC] a beat", duration=1 / 3)
    timeline = build_timeline(store)
    assert timeline.total_frames == 240
    assert {c.frame_count for c in timeline.panels} == {8}
