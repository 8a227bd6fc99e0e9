"""One panel's picture prepared for an output size, framed by a camera at any zoom.

The picture is scaled once into a small pyramid (1x, 2x, 4x ... the output box,
up to the move's largest zoom and the source's own size). Each frame maps the
camera's crop box onto the output with one affine warp from the level just
above the needed scale, so a slow push-in moves by fractions of a pixel
instead of jumping, and a zoomed-out frame is never sampled with aliasing.
"""

from __future__ import annotations

import cv2
import numpy as np

from storyboard_app.export.pictures import contain_box
from storyboard_app.project.camera import Framing


class PanelPicture:
    def __init__(self, source: np.ndarray, size: tuple[int, int], max_zoom: float) -> None:
        self.size = size
        height, width = source.shape[:2]
        self.box = contain_box((width, height), size)
        self.levels = pyramid(source, self.box[2], self.box[3], max_zoom)

    def render(self, framing: Framing) -> np.ndarray:
        """The frame the camera sees with ``framing``: the crop box scaled into the output box."""
        x, y, w, h = self.box
        level = self.level_for(framing.zoom)
        left, top, right, bottom = framing.crop_box(level.shape[1], level.shape[0])
        scale_x, scale_y = w / (right - left), h / (bottom - top)
        matrix = np.array(
            [
                [scale_x, 0.0, (0.5 - left) * scale_x - 0.5],
                [0.0, scale_y, (0.5 - top) * scale_y - 0.5],
            ]
        )
        if framing == Framing() and level.shape[1] == w and level.shape[0] == h:
            view = level
        else:
            view = cv2.warpAffine(
                level, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        frame = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        frame[y : y + h, x : x + w] = view
        return frame

    def level_for(self, zoom: float) -> np.ndarray:
        """The smallest level at which this zoom needs no downscaling by more than half."""
        for level in self.levels:
            if level.shape[1] >= self.box[2] * zoom - 0.5:
                return level
        return self.levels[-1]


def pyramid(source: np.ndarray, width: int, height: int, max_zoom: float) -> list[np.ndarray]:
    """The source resized to the output box at 1x, 2x, 4x ... (never beyond the source)."""
    levels = []
    factor = 1.0
    while True:
        target_w, target_h = round(width * factor), round(height * factor)
        if target_w >= source.shape[1] or target_h >= source.shape[0]:
            levels.append(source)
            break
        levels.append(cv2.resize(source, (target_w, target_h), interpolation=cv2.INTER_AREA))
        if factor >= max_zoom:
            break
        factor *= 2
    return levels
