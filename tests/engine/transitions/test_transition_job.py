"""Transition jobs on a project: stored frames, progress, cancel, failure, missing panels."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard_app.engine.transitions import job
from storyboard_app.engine.transitions.errors import (
    MissingPanelImageError,
    TransitionCancelled,
    TransitionFailedError,
)
from storyboard_app.engine.transitions.job import (
    TransitionOptions,
    TransitionProgress,
    build_transition_request,
    decode_png,
    generate_transition,
)
from storyboard_app.engine.transitions.motion_model import MotionModel
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore


def square_png(left: int, size: tuple[int, int] = (64, 48)) -> bytes:
    image = np.full((size[1], size[0], 3), 40, np.uint8)
    image[16:32, left : left + 16] = (230, 200, 40)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def project(store: ProjectStore) -> ProjectStore:
    """Three panels; the first two have images, the third has none."""
    for prompt in ("a square on the left", "a square on the right", "an empty room"):
        store.scenes.add(prompt)
    first, second, _ = store.scenes.list()
    store.takes.add(first.id, square_png(8), TakeParams(width=64, height=48, source="imported"))
    store.takes.add(second.id, square_png(24), TakeParams(width=64, height=48, source="imported"))
    return store


def scene_ids(store: ProjectStore) -> list[int]:
    return [scene.id for scene in store.scenes.list()]


def media_files(store: ProjectStore) -> set[str]:
    return {path.name for path in store.media.root.rglob("*.png")}


def test_morph_frames_are_stored_with_the_transition(project: ProjectStore) -> None:
    first, second, _ = scene_ids(project)
    events: list[TransitionProgress] = []
    record = generate_transition(project, first, second, "morph", 6, on_progress=events.append)
    assert (record.kind, record.status, record.frame_count) == ("morph", "ready", 6)
    assert record.duration == job.DEFAULT_DURATION
    assert record.settings["width"] == 64 and record.settings["from_take_id"] > 0
    frames = [decode_png(project.media.read_bytes(name)) for name in record.media]
    assert all(frame.shape == (48, 64, 3) for frame in frames)
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6] and events[-1].stage == "frames"
    assert project.transitions.get(record.id) == record


def test_frames_default_to_the_duration_at_the_frame_rate(project: ProjectStore) -> None:
    first, second, _ = scene_ids(project)
    options = TransitionOptions(duration=0.5)
    record = generate_transition(project, first, second, "crossfade", options=options)
    assert (record.frame_count, record.duration) == (12, 0.5)
    again = generate_transition(project, first, second, "crossfade")
    assert (again.id, again.duration, again.frame_count) == (record.id, 0.5, 12)
    # Players blend a crossfade's panels as they play: no frames are kept for it.
    assert (record.status, record.media) == ("ready", ())
    assert len(media_files(project)) == 2  # the two panels' pictures only


def test_cancel_leaves_the_project_as_it_was(project: ProjectStore) -> None:
    first, second, _ = scene_ids(project)
    before = generate_transition(project, first, second, "crossfade", 4)
    files = media_files(project)
    done: list[TransitionProgress] = []
    with pytest.raises(TransitionCancelled):
        generate_transition(
            project,
            first,
            second,
            "morph",
            8,
            on_progress=done.append,
            is_cancelled=lambda: len(done) == 3,
        )
    assert project.transitions.list() == [before]
    assert media_files(project) == files


def test_a_failure_is_recorded_with_its_error(
    project: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = scene_ids(project)

    def broken(*args: object, **kwargs: object) -> list[np.ndarray]:
        raise RuntimeError("flow exploded")

    monkeypatch.setattr(job, "morph_frames", broken)
    with pytest.raises(TransitionFailedError, match="morph between panels 1 and 2 failed"):
        generate_transition(project, first, second, "morph", 4)
    (record,) = project.transitions.list()
    assert record.status == "failed" and record.media == ()
    assert "flow exploded" in record.settings["error"]


def test_panels_without_images_and_far_panels_are_refused(project: ProjectStore) -> None:
    first, second, third = scene_ids(project)
    with pytest.raises(MissingPanelImageError, match="Panel 3 has no image") as raised:
        generate_transition(project, second, third, "morph", 4)
    assert "--scenes 3" in raised.value.hint
    with pytest.raises(ValidationError, match="Panels 1 and 3 are not neighbours"):
        build_transition_request(project, first, third, "morph")
    with pytest.raises(ValidationError, match="out of range"):
        generate_transition(project, first, second, "motion", 40)
    assert project.transitions.list() == []


def test_a_cut_is_recorded_without_frames(project: ProjectStore) -> None:
    first, second, _ = scene_ids(project)
    generate_transition(project, first, second, "crossfade", 3)
    record = generate_transition(project, first, second, "cut")
    assert (record.kind, record.status, record.media) == ("cut", "ready", ())


def test_motion_transition_with_the_tiny_model(
    project: ProjectStore, tiny_motion_model: MotionModel
) -> None:
    first, second, _ = scene_ids(project)
    default_size = build_transition_request(project, first, second, "motion")
    assert (default_size.width, default_size.height, default_size.frames) == (512, 384, 16)
    options = TransitionOptions(steps=2, seed=5, size=(64, 64))
    events: list[TransitionProgress] = []
    record = generate_transition(
        project,
        first,
        second,
        "motion",
        5,
        options=options,
        motion_model=tiny_motion_model,
        on_progress=events.append,
    )
    assert (record.status, record.frame_count) == ("ready", 5)
    assert (record.settings["width"], record.settings["height"]) == (64, 64)
    assert record.settings["sources"]["motion_adapter"].startswith("guoyww/")
    assert record.settings["seed"] == 5 and "square on the left; then" in record.settings["prompt"]
    assert [e.step for e in events] == [1, 2] and events[0].stage == "denoising"
    frame = decode_png(project.media.read_bytes(record.media[0]))
    assert frame.shape == (64, 64, 3)


def test_a_failed_attempt_keeps_the_finished_transition(
    project: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #19.3: a 6-frame morph, then a failing motion run, still plays the morph."""
    first, second, _ = scene_ids(project)
    morph = generate_transition(project, first, second, "morph", 6)

    def broken(*args: object, **kwargs: object) -> list[np.ndarray]:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(job, "generate_motion_frames", broken)
    with pytest.raises(TransitionFailedError, match="out of memory") as raised:
        generate_transition(project, first, second, "motion", 8, motion_model=object())
    assert "morph that was there is kept" in raised.value.hint
    assert project.transitions.list() == [morph]
    assert all(project.media.exists(name) for name in morph.media)


# A child that makes a 4-frame morph over a ready 6-frame one and SIGKILLs itself at a
# chosen point: at the third frame made, or just after its first write to the database.
KILLED_JOB = textwrap.dedent(
    """
    import os, signal, sys
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from storyboard_app.engine.transitions.job import generate_transition
    from storyboard_app.project.store import ProjectStore

    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    def mark_write(session, context):
        session.info["wrote"] = True

    def after_commit(session):
        if session.info.pop("wrote", False):
            die()

    when = sys.argv[2]
    with ProjectStore.open(sys.argv[1]) as store:
        first, second = [scene.id for scene in store.scenes.list()][:2]
        if when == "commit":
            event.listen(Session, "after_flush", mark_write)
            event.listen(Session, "after_commit", after_commit)
        progress = (lambda e: e.step == 3 and die()) if when == "frames" else (lambda e: None)
        generate_transition(store, first, second, "morph", 4, on_progress=progress)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_job_leaves_the_old_transition_or_the_new_one(
    project: ProjectStore, tmp_path: Path
) -> None:
    """Issue #19.3: never pending with no frames, wherever the job dies."""
    first, second, _ = scene_ids(project)
    old = generate_transition(project, first, second, "morph", 6)
    project.close()
    children = {}
    for when in ("frames", "commit"):
        copy = shutil.copytree(project.folder, tmp_path / when / project.folder.name)
        children[when] = (copy, subprocess.Popen([sys.executable, "-c", KILLED_JOB, copy, when]))
    found = {}
    for when, (copy, child) in children.items():
        assert child.wait(timeout=120) == -signal.SIGKILL
        with ProjectStore.open(copy) as store:
            (record,) = store.transitions.list()
            assert record.status == "ready" and record.media
            assert all(store.media.exists(name) for name in record.media)
            found[when] = record.frame_count
    assert found == {"frames": old.frame_count, "commit": 4}
