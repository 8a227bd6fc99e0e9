"""Camera moves: an eased pan and zoom across a panel, as storyboard animatics use.

A :class:`Framing` is the part of the panel the camera sees: its centre (as a
fraction of the panel's width and height) and a zoom (1 = the whole panel,
2 = half its width). Framings are kept inside the panel, so a move never shows
anything beyond the picture's edges.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from storyboard_app.project.errors import ValidationError

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
MAX_ZOOM = 8.0


@dataclass(frozen=True)
class Framing:
    center_x: float = 0.5
    center_y: float = 0.5
    zoom: float = 1.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.zoom <= MAX_ZOOM:
            raise ValidationError(
                f"A zoom of {self.zoom:g} is out of range.", f"Use a zoom from 1 to {MAX_ZOOM:g}."
            )
        for name in ("center_x", "center_y"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(
                    f"The camera centre {name[-1]} = {getattr(self, name):g} is outside the panel.",
                    "Use values from 0 (left/top) to 1 (right/bottom).",
                )

    def crop_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` in pixels, shifted to stay inside the image."""
        crop_w, crop_h = width / self.zoom, height / self.zoom
        left = min(max(self.center_x * width - crop_w / 2, 0.0), width - crop_w)
        top = min(max(self.center_y * height - crop_h / 2, 0.0), height - crop_h)
        return left, top, left + crop_w, top + crop_h


@dataclass(frozen=True)
class CameraMove:
    start: Framing = field(default_factory=Framing)
    end: Framing = field(default_factory=Framing)
    easing: str = "ease_in_out"

    def __post_init__(self) -> None:
        if self.easing not in EASINGS:
            raise ValidationError(
                f"{self.easing!r} is not an easing.", "Use one of: " + ", ".join(EASINGS) + "."
            )

    def framing_at(self, t: float) -> Framing:
        """The framing at time ``t`` in [0, 1] of the panel's duration, eased.

        Zoom is interpolated geometrically so that a zoom-in feels constant in speed.
        """
        s = ease(self.easing, min(max(t, 0.0), 1.0))
        return Framing(
            center_x=lerp(self.start.center_x, self.end.center_x, s),
            center_y=lerp(self.start.center_y, self.end.center_y, s),
            zoom=math.exp(lerp(math.log(self.start.zoom), math.log(self.end.zoom), s)),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CameraMove:
        data = json.loads(text)
        return cls(
            start=Framing(**data["start"]),
            end=Framing(**data["end"]),
            easing=data.get("easing", "ease_in_out"),
        )


def lerp(a: float, b: float, s: float) -> float:
    return a + (b - a) * s


def ease(easing: str, t: float) -> float:
    if easing == "ease_in":
        return t * t
    if easing == "ease_out":
        return 1 - (1 - t) * (1 - t)
    if easing == "ease_in_out":
        return t * t * (3 - 2 * t)
    return t
