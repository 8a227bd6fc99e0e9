"""The story as a timeline: which frames each panel and transition occupies.

Panels are held for their durations; a transition between two panels adds its
own frames between them (a cut adds none). Boundaries are rounded from
cumulative time, so a long story never drifts from its durations by more than
half a frame. The preview player, the MP4 export and the editorial exports all
read this one description, so they agree to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyboard_app.project.camera import CameraMove
from storyboard_app.project.records import SceneRecord, TransitionRecord
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
    transition_id: int
    from_scene_id: int
    to_scene_id: int
    kind: str
    start_frame: int
    frame_count: int
    media: tuple[str, ...]
    status: str

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count


@dataclass(frozen=True)
class Timeline:
    frame_rate: int
    clips: tuple[PanelClip | TransitionClip, ...]

    @property
    def total_frames(self) -> int:
        return self.clips[-1].end_frame if self.clips else 0

    @property
    def duration(self) -> float:
        return self.total_frames / self.frame_rate

    @property
    def panels(self) -> tuple[PanelClip, ...]:
        return tuple(c for c in self.clips if isinstance(c, PanelClip))

    @property
    def transitions(self) -> tuple[TransitionClip, ...]:
        return tuple(c for c in self.clips if isinstance(c, TransitionClip))

    def clip_at(self, frame: int) -> PanelClip | TransitionClip | None:
        """The clip showing ``frame`` (None past the end)."""
        for clip in self.clips:
            if clip.start_frame <= frame < clip.end_frame:
                return clip
        return None


def build_timeline(store: ProjectStore) -> Timeline:
    """The project's timeline from its scenes, their active takes and live transitions."""
    scenes = store.scenes.list()
    media = {s.id: active_media(store, s) for s in scenes}
    transitions = {(t.from_scene_id, t.to_scene_id): t for t in store.transitions.list()}
    return layout(store.settings().frame_rate, scenes, media, transitions)


def active_media(store: ProjectStore, scene: SceneRecord) -> str | None:
    if scene.active_take_id is None:
        return None
    return store.takes.get(scene.active_take_id).media


def layout(
    frame_rate: int,
    scenes: list[SceneRecord],
    media: dict[int, str | None],
    transitions: dict[tuple[int, int], TransitionRecord],
) -> Timeline:
    """Place panels and the transitions between neighbours on a frame grid."""
    clips: list[PanelClip | TransitionClip] = []
    seconds = 0.0
    for index, scene in enumerate(scenes):
        start, seconds = frame_span(seconds, scene.duration, frame_rate)
        clips.append(
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
        following = scenes[index + 1] if index + 1 < len(scenes) else None
        transition = transitions.get((scene.id, following.id)) if following else None
        if transition is not None and plays(transition):
            start, seconds = frame_span(seconds, transition.duration, frame_rate)
            clips.append(
                TransitionClip(
                    transition_id=transition.id,
                    from_scene_id=transition.from_scene_id,
                    to_scene_id=transition.to_scene_id,
                    kind=transition.kind,
                    start_frame=start,
                    frame_count=round(seconds * frame_rate) - start,
                    media=transition.media,
                    status=transition.status,
                )
            )
    return Timeline(frame_rate, tuple(c for c in clips if c.frame_count > 0))


def plays(transition: TransitionRecord) -> bool:
    """Cuts take no time, and a stale transition plays as a cut until it is regenerated."""
    return transition.kind != "cut" and transition.status != "stale" and transition.duration > 0


def frame_span(seconds: float, duration: float, frame_rate: int) -> tuple[int, float]:
    """The first frame of an item starting at ``seconds``, and the time it ends."""
    return round(seconds * frame_rate), seconds + duration
