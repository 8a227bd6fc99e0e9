"""Issue #11, one running time everywhere: every view and export of a project agrees to the
frame, whatever its transitions (cuts, crossfades, morphs, failed, stale and unmade ones)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import av
import opentimelineio as otio
import pytest
from PIL import Image
from pypdf import PdfReader
from PySide6.QtCore import Qt
from support import run_cli

from storyboard_app.export import (
    FrameOptions,
    PdfOptions,
    VideoOptions,
    export_editorial,
    export_frames,
    export_mp4,
    export_pdf,
)
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import build_timeline
from storyboard_app.ui.preview_player import PreviewPlayer
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_view import TimelineView

DURATIONS = (1.0, 0.75, 1.5, 0.5, 2.0, 1.25, 0.3)
# Transitions never add time: the panels' 7.3 s at 24 fps, rounded once.
EXPECTED_FRAMES = 175


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def mixed(store: ProjectStore) -> ProjectStore:
    """Seven panels joined by a crossfade, a cut, a ready morph, a failed motion,
    a stale morph and a morph not made yet."""
    store.update_settings(width=96, height=72, frame_rate=24)
    scenes = [store.scenes.add(f"[NC] beat {i}", duration=d) for i, d in enumerate(DURATIONS)]
    for index, scene in enumerate(scenes):
        store.takes.add(scene.id, png((30 * index, 80, 200)), TakeParams(width=32, height=24))
    ids = [scene.id for scene in scenes]
    store.transitions.set(ids[0], ids[1], kind="crossfade", duration=0.5)
    store.transitions.set(ids[1], ids[2], kind="cut", duration=0.0)
    frames = [store.media.put_image_bytes(png((250, 250, c))) for c in (0, 120, 250)]
    morph = store.transitions.set(ids[2], ids[3], kind="morph", duration=0.25)
    store.transitions.set_result(morph.id, "ready", frames)
    failed = store.transitions.set(ids[3], ids[4], kind="motion", duration=1.0, frame_count=16)
    store.transitions.set_result(failed.id, "failed")
    stale = store.transitions.set(ids[4], ids[5], kind="morph", duration=1.0)
    store.transitions.set_result(stale.id, "stale", frames)
    store.transitions.set(ids[5], ids[6], kind="morph", duration=1.0)
    return store


def pdf_running_frames(path: Path, frame_rate: int) -> int:
    text = PdfReader(str(path)).pages[0].extract_text()
    found = re.search(r"(\d+):(\d\d(?:\.\d+)?) running time", text)
    assert found, text
    return round((int(found[1]) * 60 + float(found[2])) * frame_rate)


def mp4_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def editorial_frames(store: ProjectStore, folder: Path, name: str, suffix: str) -> int:
    result = export_editorial(store, folder / f"cut{suffix}", name)
    extra = {"rate": 24} if name == "edl" else {}
    timeline = otio.adapters.read_from_file(str(result.path), **extra)
    (track,) = timeline.video_tracks()
    return track.duration().to_frames()


def test_every_view_and_export_has_the_same_running_time(
    qtbot: Any, mixed: ProjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timeline = build_timeline(mixed)
    assert timeline.total_frames == EXPECTED_FRAMES
    assert [t.kind for t in timeline.transitions] == ["crossfade", "morph"]
    assert [t.status for t in timeline.as_cuts] == ["failed", "stale", "pending"]

    session = ProjectSession(mixed)
    view = TimelineView(session)
    qtbot.addWidget(view)
    player = PreviewPlayer(session)
    qtbot.addWidget(player)
    assert view.panel_items()[-1].rect().right() == pytest.approx(view.x_of_frame(EXPECTED_FRAMES))
    assert player.frame_count == EXPECTED_FRAMES

    info = mixed.info()
    assert (info.total_frames, info.total_duration) == (EXPECTED_FRAMES, EXPECTED_FRAMES / 24)
    code, out, _ = run_cli(capsys, "info", mixed.folder, "--json")
    assert code == 0 and json.loads(out)["total_frames"] == EXPECTED_FRAMES
    code, out, _ = run_cli(capsys, "info", mixed.folder)
    assert code == 0 and f"({EXPECTED_FRAMES} frames at 24 fps)" in out

    pdf = export_pdf(mixed, tmp_path / "board.pdf", PdfOptions(layout="worksheet")).path
    assert pdf_running_frames(pdf, 24) == EXPECTED_FRAMES
    mp4 = export_mp4(mixed, tmp_path / "animatic.mp4", VideoOptions(size=(32, 24))).path
    assert mp4_frames(mp4) == EXPECTED_FRAMES
    frames = export_frames(mixed, tmp_path / "frames", FrameOptions(size=(16, 16)))
    assert frames.count == len(list((tmp_path / "frames").iterdir())) == EXPECTED_FRAMES
    for name, suffix in (("otio", ".otio"), ("fcp_xml", ".xml"), ("edl", ".edl")):
        assert editorial_frames(mixed, tmp_path, name, suffix) == EXPECTED_FRAMES, name


def centre(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((image.width // 2, image.height // 2))


def test_failed_and_stale_transitions_play_as_cuts_in_every_export(
    mixed: ProjectStore, tmp_path: Path
) -> None:
    """Issue #11.3: around the cuts of the failed motion (frame 90) and of the stale morph
    (frame 138) every frame is one panel or the other, never blended or morphed."""
    colours = {90: (90, 80, 200), 138: (120, 80, 200)}  # the panels before those cuts
    after = {90: (120, 80, 200), 138: (150, 80, 200)}
    export_frames(mixed, tmp_path / "frames", FrameOptions(size=(32, 24)))
    mp4 = export_mp4(mixed, tmp_path / "a.mp4", VideoOptions(size=(32, 24))).path
    with av.open(str(mp4)) as container:
        decoded = [frame.to_image() for frame in container.decode(video=0)]
    for cut in (90, 138):
        for frame, expected in ((cut - 1, colours[cut]), (cut, after[cut])):
            with Image.open(tmp_path / "frames" / f"frame_{frame:06d}.png") as still:
                assert centre(still) == expected, frame
            pixel = centre(decoded[frame])
            assert all(abs(a - b) < 12 for a, b in zip(pixel, expected, strict=True)), frame
    for name, suffix in (("otio", ".otio"), ("fcp_xml", ".xml"), ("edl", ".edl")):
        result = export_editorial(mixed, tmp_path / f"cut{suffix}", name)
        extra = {"rate": 24} if name == "edl" else {}
        (track,) = otio.adapters.read_from_file(str(result.path), **extra).video_tracks()
        dissolves = [item for item in track if isinstance(item, otio.schema.Transition)]
        assert len(dissolves) == 2, name  # the crossfade and the ready morph only
    kinds = [t.metadata["storyboard"]["kind"] for t in dissolves_of(tmp_path / "cut.otio")]
    assert kinds == ["crossfade", "morph"]


def dissolves_of(path: Path) -> list[otio.schema.Transition]:
    (track,) = otio.adapters.read_from_file(str(path)).video_tracks()
    return [item for item in track if isinstance(item, otio.schema.Transition)]


def test_transitions_that_play_as_cuts_look_different(qtbot: Any, mixed: ProjectStore) -> None:
    """Issue #11.3: failed, stale and unmade transitions are thin hatched marks on their cut,
    each its own colour, never a timed block like a transition that plays."""
    view = TimelineView(ProjectSession(mixed))
    qtbot.addWidget(view)
    items = {item.status: item for item in view.transition_items() if item.as_cut}
    playing = [item for item in view.transition_items() if not item.as_cut]
    assert sorted(items) == ["failed", "pending", "stale"]
    assert sorted(item.kind for item in playing) == ["crossfade", "morph"]
    colours = {item.brush().color().name() for item in [*items.values(), *playing]}
    assert len(colours) == 4
    for status, item in items.items():
        assert item.brush().style() == Qt.BrushStyle.DiagCrossPattern
        assert item.rect().width() < view.x_of_frame(4) < playing[0].rect().width()
        assert item.rect().center().x() == pytest.approx(view.x_of_frame(item.clip.cut_frame))
        assert {"failed": "failed", "stale": "stale", "pending": "not made"}[status] in (
            item.toolTip()
        )
