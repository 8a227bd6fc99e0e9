"""The animatic frame by frame: what the MP4, the PNG sequence and the app's player show.

:class:`TimelineFrames` turns a :class:`Timeline` into RGB frames of one
output size. Panels are held for their frames, framed by their camera move
(eased per frame, sub-pixel smooth). A transition overlaps the cut between
its panels (it adds no time, see :mod:`storyboard_app.project.timeline`): a
crossfade is blended on the fly from the two panels as they play; a morph or
motion clip plays its generated frames, resampled to the transition's frame
count.
Pictures keep their aspect ratio, with black bars where it differs from the
output's.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np
from PIL import Image

from storyboard_app.export.errors import ExportOptionsError, NothingToExportError
from storyboard_app.export.overlays import Overlay, caption_overlay, number_overlay
from storyboard_app.export.panel_picture import PanelPicture
from storyboard_app.export.pictures import contain_box, load_rgb, placeholder_image, to_array
from storyboard_app.export.story import IMAGE_MISSING, NOT_RENDERED
from storyboard_app.project.camera import Framing
from storyboard_app.project.media import MediaStore
from storyboard_app.project.timeline import PanelClip, Timeline, TransitionClip

MIN_SIZE = 16
MAX_SIZE = 7680
CACHE_SIZE = 4

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


@dataclass(frozen=True)
class FrameStyle:
    """What is burnt into panel frames: the caption along the bottom, the panel number."""

    captions: bool = False
    panel_numbers: bool = False


class SmallCache(Generic[Key, Value]):
    """Keeps the few most recently used values; frames are read in order, so few are needed."""

    def __init__(self, capacity: int = CACHE_SIZE) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Key, Value] = OrderedDict()

    def get(self, key: Key, make: Callable[[], Value]) -> Value:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return value


def check_frame_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
        raise ExportOptionsError(
            f"A frame size of {width}x{height} is out of range.",
            f"Use {MIN_SIZE} to {MAX_SIZE} pixels a side, e.g. 1280x720.",
        )
    return width, height


class TimelineFrames:
    """Frames ``0 .. len(self) - 1`` of a timeline as ``(height, width, 3)`` uint8 RGB arrays.

    Reading frames in order is fastest (pictures are prepared once per panel);
    any frame can be read at any time, as a preview player scrubbing needs. An
    instance keeps small caches and is not thread-safe: give each thread its own.
    """

    def __init__(
        self,
        timeline: Timeline,
        media: MediaStore,
        size: tuple[int, int],
        style: FrameStyle | None = None,
    ) -> None:
        if timeline.total_frames == 0:
            raise NothingToExportError(
                "The timeline is empty: there are no panels to show.", "Add panels first."
            )
        self.timeline = timeline
        self.media = media
        self.size = check_frame_size(size)
        self.style = style or FrameStyle()
        self._starts = [clip.start_frame for clip in timeline.panels]
        self._fades = sorted(timeline.transitions, key=lambda clip: clip.start_frame)
        self._fade_starts = [clip.start_frame for clip in self._fades]
        self._panels = {clip.scene_id: clip for clip in timeline.panels}
        self._pictures: SmallCache[int, PanelPicture | np.ndarray] = SmallCache()
        self._overlays: SmallCache[int, list[Overlay]] = SmallCache()
        self._held: SmallCache[tuple[int, float], np.ndarray] = SmallCache()
        self._stills: SmallCache[str, np.ndarray | None] = SmallCache()

    def __len__(self) -> int:
        return self.timeline.total_frames

    @property
    def frame_rate(self) -> int:
        return self.timeline.frame_rate

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new array the caller may change."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} is outside the timeline (0..{len(self) - 1})")
        transition = self._transition_at(index)
        if transition is not None:
            return self.transition_frame(transition, index)
        clip = self.timeline.panels[bisect.bisect_right(self._starts, index) - 1]
        return self.panel_at(clip, index).copy()

    def _transition_at(self, index: int) -> TransitionClip | None:
        place = bisect.bisect_right(self._fade_starts, index) - 1
        if place >= 0 and index < self._fades[place].end_frame:
            return self._fades[place]
        return None

    def image(self, index: int) -> Image.Image:
        """Frame ``index`` as a Pillow image (for previews)."""
        return Image.fromarray(self.frame(index))

    def panel_at(self, clip: PanelClip, index: int) -> np.ndarray:
        """The panel as it looks at timeline frame ``index``: held at its first or last
        frame outside its own time (a transition overlapping its cut shows it there)."""
        offset = min(max(index - clip.start_frame, 0), clip.frame_count - 1)
        return self.panel_frame(clip, progress(offset, clip.frame_count))

    def panel_frame(self, clip: PanelClip, t: float) -> np.ndarray:
        """The panel at time ``t`` in [0, 1] of its clip, with its overlays; do not modify."""
        move = clip.camera_move
        moving = move is not None and move.start != move.end
        key = (clip.scene_id, t if moving else 0.0)
        return self._held.get(key, lambda: self._draw_panel(clip, t))

    def _draw_panel(self, clip: PanelClip, t: float) -> np.ndarray:
        picture = self._pictures.get(clip.scene_id, lambda: self._prepare(clip))
        if isinstance(picture, np.ndarray):
            frame = picture.copy()
        else:
            move = clip.camera_move
            frame = picture.render(move.framing_at(t) if move else Framing())
        for overlay in self._overlays.get(clip.scene_id, lambda: self._make_overlays(clip)):
            overlay.apply(frame)
        return frame

    def _prepare(self, clip: PanelClip) -> PanelPicture | np.ndarray:
        """The panel's picture, or a placeholder frame when it has no usable image."""
        image = load_rgb(self.media, clip.media) if clip.media else None
        if image is None:
            reason = IMAGE_MISSING if clip.media else NOT_RENDERED
            return to_array(placeholder_image(self.size, f"Panel {clip.number}", reason))
        move = clip.camera_move
        max_zoom = max(move.start.zoom, move.end.zoom) if move else 1.0
        return PanelPicture(to_array(image), self.size, max_zoom)

    def _make_overlays(self, clip: PanelClip) -> list[Overlay]:
        overlays = []
        if self.style.captions:
            caption = caption_overlay(clip.caption, self.size)
            overlays += [caption] if caption else []
        if self.style.panel_numbers:
            overlays.append(number_overlay(clip.number, self.size))
        return overlays

    def transition_frame(self, clip: TransitionClip, index: int) -> np.ndarray:
        """Timeline frame ``index`` inside a transition: one of its generated frames, or
        the two panels blended as they play (a crossfade)."""
        offset = index - clip.start_frame
        if clip.media:
            name = clip.media[
                min(len(clip.media) - 1, offset * len(clip.media) // clip.frame_count)
            ]
            still = self._stills.get(name, lambda: self._fit_still(name))
            if still is not None:
                return still.copy()
        before = self.panel_at(self._panels[clip.from_scene_id], index)
        after = self.panel_at(self._panels[clip.to_scene_id], index)
        weight = (offset + 1) / (clip.frame_count + 1)
        return cv2.addWeighted(before, 1.0 - weight, after, weight, 0.0)

    def _fit_still(self, name: str) -> np.ndarray | None:
        image = load_rgb(self.media, name)
        if image is None:
            return None
        x, y, w, h = contain_box(image.size, self.size)
        frame = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        frame[y : y + h, x : x + w] = to_array(image.resize((w, h), Image.Resampling.LANCZOS))
        return frame


def progress(offset: int, frame_count: int) -> float:
    """How far through its clip a frame is: 0 on the first frame, 1 on the last."""
    return offset / (frame_count - 1) if frame_count > 1 else 0.0
