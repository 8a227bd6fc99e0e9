"""OTIO, FCP 7 XML and CMX 3600 EDL read back with OpenTimelineIO's adapters."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import opentimelineio as otio
import pytest
from conftest import TOTAL_FRAMES

from storyboard_app.export import (
    EditorialOptions,
    ExportError,
    ExportOptionsError,
    export_editorial,
)
from storyboard_app.project.store import ProjectStore

# Panels of 12, 12, 6 and 12 frames; the 6-frame crossfade and 6-frame morph overlap
# their cuts by 3 frames each side and add no time.
CLIP_FRAMES = [12, 12, 6, 12]
TRANSITION_OFFSETS = [(3, 3), (3, 3)]


def track_of(timeline: otio.schema.Timeline) -> otio.schema.Track:
    (track,) = timeline.video_tracks()
    return track


def clips_and_transitions(track: otio.schema.Track) -> tuple[list, list]:
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    return clips, [item for item in track if isinstance(item, otio.schema.Transition)]


@pytest.mark.parametrize(("format_name", "suffix"), [("otio", ".otio"), ("fcp_xml", ".xml")])
def test_clips_and_dissolves_match_the_timeline(
    board: ProjectStore, tmp_path: Path, format_name: str, suffix: str
) -> None:
    result = export_editorial(board, tmp_path / f"cut{suffix}", format_name)
    timeline = otio.adapters.read_from_file(str(result.path))
    track = track_of(timeline)
    clips, transitions = clips_and_transitions(track)
    assert track.duration().to_frames() == TOTAL_FRAMES
    assert track.duration().rate == 24
    assert [c.source_range.duration.to_frames() for c in clips] == CLIP_FRAMES
    offsets = [(t.in_offset.to_frames(), t.out_offset.to_frames()) for t in transitions]
    assert offsets == TRANSITION_OFFSETS
    stills = [Path(urlparse(c.media_reference.target_url).path) for c in clips]
    assert [p.name for p in stills] == [
        "panel_001.png",
        "panel_002.jpg",
        "panel_003.png",
        "panel_004.png",
    ]
    assert all(path.is_file() for path in stills)
    assert result.extra == (tmp_path / "cut_stills",)


def test_otio_keeps_storyboard_metadata_and_caption_markers(
    board: ProjectStore, tmp_path: Path
) -> None:
    result = export_editorial(board, tmp_path / "cut.otio", "otio")
    clips, transitions = clips_and_transitions(
        track_of(otio.adapters.read_from_file(str(result.path)))
    )
    assert [c.metadata["storyboard"]["panel"] for c in clips] == [1, 2, 3, 4]
    assert [t.metadata["storyboard"]["kind"] for t in transitions] == ["crossfade", "morph"]
    assert [m.name for m in clips[0].markers] == ["Up she goes."]


def test_edl_has_an_event_per_panel_and_dissolves(board: ProjectStore, tmp_path: Path) -> None:
    result = export_editorial(board, tmp_path / "cut.edl", "edl")
    text = result.path.read_text()
    assert text.startswith("TITLE: Harbour Night")
    assert text.count(" D 006 ") == 2
    timeline = otio.adapters.read_from_file(str(result.path), rate=24)
    clips, transitions = clips_and_transitions(track_of(timeline))
    assert len(clips) == 4 and len(transitions) == 2
    assert track_of(timeline).duration().to_frames() == TOTAL_FRAMES
    # An EDL puts a whole dissolve after its cut: the outgoing clip gives up its half.
    assert [c.source_range.duration.to_frames() for c in clips] == [9, 15, 3, 15]


def test_any_rate_for_otio_but_only_timecode_rates_for_edl_and_fcp(
    board: ProjectStore, tmp_path: Path
) -> None:
    twelve = EditorialOptions(frame_rate=12)
    result = export_editorial(board, tmp_path / "cut.otio", "otio", twelve)
    timeline = otio.adapters.read_from_file(str(result.path))
    assert track_of(timeline).duration().to_frames() == 21
    for name, suffix in (("edl", ".edl"), ("fcp_xml", ".xml")):
        with pytest.raises(ExportOptionsError, match="no 12 fps"):
            export_editorial(board, tmp_path / f"cut{suffix}", name, twelve)
        assert not (tmp_path / f"cut{suffix}").exists()


def test_a_foreign_stills_folder_is_never_replaced(board: ProjectStore, tmp_path: Path) -> None:
    stills = tmp_path / "cut_stills"
    stills.mkdir()
    (stills / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="did not write"):
        export_editorial(board, tmp_path / "cut.otio", "otio")
    assert (stills / "notes.txt").read_text() == "mine"


def test_exporting_again_replaces_its_own_stills(board: ProjectStore, tmp_path: Path) -> None:
    export_editorial(board, tmp_path / "cut.otio", "otio")
    board.scenes.add("[NC] one more")
    export_editorial(board, tmp_path / "cut.otio", "otio")
    assert len(list((tmp_path / "cut_stills").iterdir())) == 5


def test_unknown_format_is_refused(board: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(ExportOptionsError, match="not an editorial format"):
        export_editorial(board, tmp_path / "cut.aaf", "aaf")
