"""Editorial timelines: OpenTimelineIO, Final Cut Pro 7 XML and CMX 3600 EDL.

Panels become clips of their durations that point at still images written
beside the timeline (``NAME_stills/panel_001.png`` ...); transitions become
OTIO dissolves over the cut between their panels, which add no time, as on
the project's timeline (a transition that plays as a cut is left out). The
frame layout is
the same :class:`Timeline` the MP4 is encoded from, so an editor's cut lines
up with the animatic to the frame. FCP XML and EDL are written by the
official OTIO adapter packages from the same OTIO timeline.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from storyboard_app.export.errors import ExportError, ExportOptionsError
from storyboard_app.export.output import (
    atomic_file,
    atomic_folder,
    check_output_file,
    check_writable_folder,
)
from storyboard_app.export.progress import (
    CancelCheck,
    ProgressCallback,
    Steps,
    never_cancelled,
    no_progress,
)
from storyboard_app.export.result import ExportResult
from storyboard_app.export.stills import panel_file, panel_file_name
from storyboard_app.export.story import Story, collect_story
from storyboard_app.export.timeline_source import project_timeline
from storyboard_app.project.grammar import plural
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import PanelClip, Timeline, TransitionClip

# format name -> (OTIO adapter, file suffixes)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "otio": ("otio_json", (".otio",)),
    "fcp_xml": ("fcp_xml", (".xml",)),
    "edl": ("cmx_3600", (".edl",)),
}
STILLS_SUFFIX = "_stills"
# SMPTE timecode, which FCP XML and EDL are written in, exists only at these whole rates.
TIMECODE_RATES = (24, 25, 30, 48, 50, 60)
TIMECODE_FORMATS = ("fcp_xml", "edl")


@dataclass(frozen=True)
class EditorialOptions:
    """``frame_rate`` overrides the project's (``None`` keeps it)."""

    frame_rate: int | None = None


def export_editorial(
    store: ProjectStore,
    path: Path | str,
    format_name: str,
    options: EditorialOptions | None = None,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Write the timeline in ``format_name`` (see :data:`FORMATS`) and its stills folder."""
    if format_name not in FORMATS:
        raise ExportOptionsError(
            f"{format_name!r} is not an editorial format.",
            "Use one of: " + ", ".join(FORMATS) + ".",
        )
    adapter, suffixes = FORMATS[format_name]
    options = options or EditorialOptions()
    target = check_output_file(path, suffixes)
    stills = target.with_name(target.stem + STILLS_SUFFIX)
    check_stills_folder(stills)
    story = collect_story(store)
    timeline = project_timeline(store, options.frame_rate)
    check_timecode_rate(format_name, timeline.frame_rate)
    steps = Steps("editorial", len(story.panels) + 1, "files", on_progress, is_cancelled)
    names = {panel.scene_id: panel_file_name(story, panel) for panel in story.panels}
    otio_timeline = build_otio_timeline(
        timeline, story, {scene_id: stills / name for scene_id, name in names.items()}
    )
    text = write_string(otio_timeline, adapter)
    with atomic_folder(stills) as temp:
        for panel in story.panels:
            name, data = panel_file(story, panel, store.media)
            (temp / name).write_bytes(data)
            steps.advance()
    with atomic_file(target) as temp:
        temp.write_text(text, encoding="utf-8")
    steps.advance()
    return ExportResult(target, len(timeline.panels), "clips", extra=(stills,))


def check_timecode_rate(format_name: str, frame_rate: int) -> None:
    """Refuse a rate that FCP XML or EDL timecode cannot express, before anything is written."""
    if format_name in TIMECODE_FORMATS and frame_rate not in TIMECODE_RATES:
        rates = ", ".join(str(rate) for rate in TIMECODE_RATES)
        raise ExportOptionsError(
            f"{format_name.replace('_', ' ').upper()} timecode has no {frame_rate} fps.",
            f"Export at one of {rates} fps (e.g. --fps 24), or use OTIO, which takes any rate.",
        )


def check_stills_folder(folder: Path) -> None:
    """The stills folder may be new or one this export wrote before (only panel images)."""
    check_writable_folder(folder.parent, folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(
            f"{folder} is a file, but the timeline's stills go there.",
            "Move that file away or name the timeline differently.",
        )
    if folder.is_dir() and any(not p.name.startswith("panel_") for p in folder.iterdir()):
        raise ExportError(
            f"The stills folder {folder} holds files this export did not write.",
            "Move them away or name the timeline differently; the folder is replaced.",
        )


def build_otio_timeline(
    timeline: Timeline, story: Story, stills: dict[int, Path]
) -> otio.schema.Timeline:
    """One video track: a clip per panel, a dissolve per transition, at the timeline's rate.

    Clips are exactly as long as their panels on the timeline; a transition
    overlaps the cut (its frames before and after the cut are its in and out
    offsets), so the track is exactly as long as the animatic.
    """
    rate = timeline.frame_rate
    panels = {panel.scene_id: panel for panel in story.panels}
    handle = max((t.frame_count for t in timeline.transitions), default=0)
    over_cut = {t.from_scene_id: t for t in timeline.transitions}
    track = otio.schema.Track(name="Panels", kind=otio.schema.TrackKind.Video)
    for clip in timeline.panels:
        caption = panels[clip.scene_id].caption.strip()
        track.append(
            otio_clip(clip, clip.frame_count, handle, stills[clip.scene_id], rate, caption)
        )
        if clip.scene_id in over_cut:
            track.append(otio_transition(over_cut[clip.scene_id], rate))
    result = otio.schema.Timeline(name=story.title, tracks=[track])
    result.global_start_time = otio.opentime.RationalTime(0, rate)
    return result


def otio_clip(
    clip: PanelClip, frames: int, handle: int, still: Path, rate: int, caption: str
) -> otio.schema.Clip:
    """A still held for ``frames``; ``handle`` frames of media either side feed dissolves."""
    reference = otio.schema.ExternalReference(
        target_url=still.as_uri(),
        available_range=time_range(0, handle + frames + handle, rate),
    )
    result = otio.schema.Clip(
        name=f"Panel {clip.number}",
        media_reference=reference,
        source_range=time_range(handle, frames, rate),
        metadata={
            "storyboard": {"panel": clip.number, "scene_id": clip.scene_id, "caption": caption},
            "cmx_3600": {"reel": f"PNL{clip.number:04d}"},
        },
    )
    if caption:
        marker = otio.schema.Marker(name=caption, marked_range=time_range(handle, 1, rate))
        result.markers.append(marker)
    return result


def otio_transition(clip: TransitionClip, rate: int) -> otio.schema.Transition:
    """A dissolve over the cut; the storyboard's kind (morph, motion...) is kept as metadata
    because editing software only knows dissolves."""
    return otio.schema.Transition(
        name=f"{clip.kind} {plural(clip.frame_count, 'frame')}",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(clip.frames_before_cut, rate),
        out_offset=otio.opentime.RationalTime(clip.frames_after_cut, rate),
        metadata={"storyboard": {"kind": clip.kind, "transition_id": clip.transition_id}},
    )


def time_range(start: int, duration: int, rate: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate)
    )


def write_string(timeline: otio.schema.Timeline, adapter: str) -> str:
    """The timeline in the adapter's format; a copy is passed because the EDL writer edits it."""
    try:
        return otio.adapters.write_to_string(copy.deepcopy(timeline), adapter)
    except (otio.exceptions.OTIOError, ValueError) as exc:
        raise ExportError(
            f"The {adapter} writer cannot express this timeline: {exc}.",
            "Try another frame rate (e.g. --fps 24) or another format.",
        ) from exc
