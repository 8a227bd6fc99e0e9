"""The story as a timeline: which frames each panel and transition occupies.

The one rule every player and export follows: panels follow each other cut to
cut, so the running time is the sum of the panels' durations, and a transition
never adds time. A crossfade, a morph or a motion clip overlaps the cut
between its two panels (half its frames before the cut, half after), as a
dissolve does in an editor; it is never longer than either panel. A morph or
motion transition that has no usable frames (failed, stale, or not made yet)
plays as a plain cut until it is remade; a cut or crossfade needs no frames.

Panel boundaries are rounded from cumulative time, so a long story never
drifts from its durations by more than half a frame. The timeline view, the
preview player, ``storyboard info``, the PDF title page, the MP4 and PNG
sequence and the editorial exports all read :func:`layout`, so they agree to
the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storyboard_app.project.camera import CameraMove
from storyboard_app.project.records import SceneRecord, TransitionRecord
from storyboard_app.project.settings import FRAMELESS_KINDS

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore


@dataclass(frozen=True)
class PanelClip:
    scene_id: int
    number: int
    start_frame: int
    frame_count: int
    media: str | None
    caption: str
    camera_move: CameraMove | None

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count


@dataclass(frozen=True)
class TransitionClip:
    """A transition over the cut at ``cut_frame`` (the first frame of the next panel).

    ``frame_count`` is 0 for a transition that plays as a cut; ``media`` holds
    generated frames only for a morph or motion that plays.
    """

    transition_id: int
    from_scene_id: int
    to_scene_id: int
    kind: str
    cut_frame: int
    start_frame: int
    frame_count: int
    media: tuple[str, ...]
    status: str

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count

    @property
    def frames_before_cut(self) -> int:
        return self.cut_frame - self.start_frame

    @property
    def frames_after_cut(self) -> int:
        return self.end_frame - self.cut_frame


@dataclass(frozen=True)
class Timeline:
    """Panels back to back; ``transitions`` play over cuts; ``as_cuts`` are transitions
    that play as cuts until they are remade (failed, stale or not made yet)."""

    frame_rate: int
    panels: tuple[PanelClip, ...]
    transitions: tuple[TransitionClip, ...] = ()
    as_cuts: tuple[TransitionClip, ...] = ()

    @property
    def total_frames(self) -> int:
        return self.panels[-1].end_frame if self.panels else 0

    @property
    def duration(self) -> float:
        return self.total_frames / self.frame_rate

    def panel_at(self, frame: int) -> PanelClip | None:
        """The panel whose time holds ``frame`` (None past the end)."""
        for clip in self.panels:
            if clip.start_frame <= frame < clip.end_frame:
                return clip
        return None

    def transition_at(self, frame: int) -> TransitionClip | None:
        """The transition playing at ``frame``, if any (transitions never overlap)."""
        for clip in self.transitions:
            if clip.start_frame <= frame < clip.end_frame:
                return clip
        return None


def build_timeline(store: ProjectStore, frame_rate: int | None = None) -> Timeline:
    """The project's timeline from its scenes, their active takes and transitions.

    ``frame_rate`` lays it out at another rate than the project's (an export's choice).
    """
    scenes = store.scenes.list()
    media: dict[int, str | None] = dict(store.takes.active_media())
    rate = store.settings().frame_rate if frame_rate is None else frame_rate
    return layout(rate, scenes, media, store.transitions.list())


def layout(
    frame_rate: int,
    scenes: list[SceneRecord],
    media: dict[int, str | None],
    transitions: list[TransitionRecord],
) -> Timeline:
    """Place the panels cut to cut on a frame grid and each transition over its cut.

    This is the project's one description of time: the running time is the
    panels' durations, whatever the transitions are.
    """
    panels: list[PanelClip] = []
    seconds = 0.0
    for scene in scenes:
        start = round(seconds * frame_rate)
        seconds += scene.duration
        panels.append(
            PanelClip(
                scene_id=scene.id,
                number=scene.number,
                start_frame=start,
                frame_count=round(seconds * frame_rate) - start,
                media=media.get(scene.id),
                caption=scene.caption,
                camera_move=scene.camera_move,
            )
        )
    order = {panel.scene_id: index for index, panel in enumerate(panels)}
    placed = [place_transition(t, panels, order, frame_rate) for t in transitions]
    clips = [clip for clip in placed if clip is not None]
    return Timeline(
        frame_rate,
        tuple(panels),
        tuple(c for c in clips if c.frame_count > 0),
        tuple(c for c in clips if c.frame_count == 0 and c.kind != "cut"),
    )


def place_transition(
    transition: TransitionRecord,
    panels: list[PanelClip],
    order: dict[int, int],
    frame_rate: int,
) -> TransitionClip | None:
    """The transition over the cut after its first panel; None when that panel is gone.

    It is centred on the cut and never longer than either panel, so the
    transitions on both sides of a panel never meet. One that does not play
    has no frames and sits on the cut.
    """
    index = order.get(transition.from_scene_id)
    if index is None:
        return None
    before = panels[index]
    after = panels[index + 1] if index + 1 < len(panels) else None
    neighbours = after is not None and after.scene_id == transition.to_scene_id
    count = 0
    if neighbours and plays(transition):
        wanted = round(transition.duration * frame_rate)
        count = max(0, min(wanted, before.frame_count, after.frame_count))
    cut = before.end_frame
    return TransitionClip(
        transition_id=transition.id,
        from_scene_id=transition.from_scene_id,
        to_scene_id=transition.to_scene_id,
        kind=transition.kind,
        cut_frame=cut,
        start_frame=cut - count // 2,
        frame_count=count,
        media=transition.media if count and transition.kind not in FRAMELESS_KINDS else (),
        status=transition.status,
    )


def plays(transition: TransitionRecord) -> bool:
    """A crossfade always plays (it needs no frames); a morph or motion only when its
    frames are ready and made from the panels' current pictures; a cut never has frames."""
    if transition.kind == "cut" or transition.duration <= 0:
        return False
    if transition.kind == "crossfade":
        return True
    return transition.status == "ready" and bool(transition.media)
