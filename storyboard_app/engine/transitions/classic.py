"""Transitions without a model: a crossfade and an optical-flow morph, at interactive speed.

The morph estimates dense optical flow both ways between the two panels
(OpenCV's DIS) once, then makes each in-between frame by moving both panels
part of the way along their flow and blending them:

1. *Flow reversal.* A panel can only be sampled backwards (``cv2.remap``),
   which needs the flow from the in-between frame to the panel. Every pixel
   is splatted to where it will be at time ``t``, carrying its own flow, so
   a moving object brings its motion along instead of leaving a ghost behind.
2. *Occlusion-aware weights.* A pixel whose flow is not undone by the flow
   of the other direction (forward-backward consistency) is about to be
   hidden or has just appeared; it counts less wherever a consistent pixel
   lands on the same spot, but still fills spots nothing else reaches. Where
   pixels collide, the faster-moving one wins (it is usually in front).
3. *Blend.* Each panel's warped picture is weighted by time and by how
   visible it is there; where neither is, the frame falls back to a crossfade.

Flow is estimated and splatted on a grid of at most ``work_size`` pixels on
the long side (flow is smooth, and this keeps a 1024x576 frame in tens of
milliseconds); the pictures themselves are warped at full resolution. DIS
follows motions up to about the size of the moving object; larger changes
between panels come out as a crossfade with some warping, not as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from storyboard_app.engine.transitions.errors import TransitionCancelled, TransitionInputError

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_EPS = 1e-6
_COARSEST_FILL_LEVEL = 4
_SPLAT_SIGMA = 0.7
# Colour difference (0-255 levels, mean over RGB) at which a match counts as 1/e.
_PHOTOMETRIC_SIGMA = 20.0
# How much better (in match, 0-1) the turned-around flow must be to replace a pixel's flow.
_SWITCH_MARGIN = 0.1
# Forward-backward consistency tolerance (Sundaram et al. 2010): a squared
# error below ALPHA * (|w|^2 + |w_back|^2) + BETA pixels^2 counts as consistent.
_CONSISTENCY_ALPHA = 0.01
_CONSISTENCY_BETA = 0.5


@dataclass(frozen=True)
class MorphOptions:
    """Tuning of the flow morph; the defaults suit storyboard panels.

    ``work_size`` is the long side of the grid where flow is estimated and
    splatted. ``depth_sharpness`` is how strongly the faster pixel wins a
    collision. ``consistency_floor`` is the weight left to an inconsistent
    pixel relative to a consistent one.
    """

    work_size: int = 384
    preset: str = "medium"
    depth_sharpness: float = 4.0
    consistency_floor: float = 0.1

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise TransitionInputError(
                f"{self.preset!r} is not an optical flow preset.",
                "Use one of: " + ", ".join(DIS_PRESETS) + ".",
            )
        if self.work_size < 16:
            raise TransitionInputError(
                f"A flow grid of {self.work_size} pixels is too small.", "Use at least 16."
            )


def transition_times(count: int) -> np.ndarray:
    """Times of ``count`` frames strictly between two panels (the panels are t=0 and t=1)."""
    return np.arange(1, count + 1, dtype=np.float64) / (count + 1)


def crossfade(start: np.ndarray, end: np.ndarray, t: float) -> np.ndarray:
    """The two panels mixed at time ``t`` (uint8 RGB)."""
    check_pair(start, end)
    return cv2.addWeighted(start, 1.0 - t, end, t, 0.0)


def crossfade_frames(start: np.ndarray, end: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` crossfade frames between the panels, excluding the panels themselves."""
    return [crossfade(start, end, float(t)) for t in transition_times(count)]


def morph_frames(
    start: np.ndarray,
    end: np.ndarray,
    count: int,
    options: MorphOptions = MorphOptions(),
    on_frame: Callable[[int, int], None] = lambda done, total: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> list[np.ndarray]:
    """``count`` flow-morph frames between the panels; raises TransitionCancelled on cancel."""
    morph = FlowMorph(start, end, options)
    frames = []
    for index, t in enumerate(transition_times(count)):
        if is_cancelled():
            raise TransitionCancelled()
        frames.append(morph.frame(float(t)))
        on_frame(index + 1, count)
    return frames


def check_pair(start: np.ndarray, end: np.ndarray) -> None:
    """Both panels must be RGB uint8 images of one size (callers resize first)."""
    for name, image in (("start", start), ("end", end)):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise TransitionInputError(
                f"The {name} panel is not an RGB image (shape {image.shape}, {image.dtype}).",
                "Give 8-bit RGB images.",
            )
    if start.shape != end.shape:
        raise TransitionInputError(
            f"The panels differ in size ({start.shape[1]}x{start.shape[0]} and "
            f"{end.shape[1]}x{end.shape[0]}).",
            "Resize the second panel to the first before making a transition.",
        )


class FlowMorph:
    """The flow between two panels, estimated once; :meth:`frame` renders any time ``t``."""

    def __init__(
        self, start: np.ndarray, end: np.ndarray, options: MorphOptions = MorphOptions()
    ) -> None:
        check_pair(start, end)
        self.start, self.end, self.options = start, end, options
        height, width = start.shape[:2]
        scale = min(1.0, options.work_size / max(height, width))
        self.work_shape = (max(2, round(height * scale)), max(2, round(width * scale)))
        self.flow_scale = np.array(
            [width / self.work_shape[1], height / self.work_shape[0]], dtype=np.float32
        )
        small_start, small_end = (self._work_image(image) for image in (start, end))
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[options.preset])
        gray_start, gray_end = (
            cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in (small_start, small_end)
        )
        forward = dis.calc(gray_start, gray_end, None)
        backward = dis.calc(gray_end, gray_start, None)
        typical = typical_speed(forward, backward)
        self.flow_forward = better_flow(forward, backward, small_start, small_end, typical, options)
        self.flow_backward = better_flow(
            backward, forward, small_end, small_start, typical, options
        )
        self.weights_forward = pixel_weights(
            self.flow_forward, self.flow_backward, small_start, small_end, typical, options
        )
        self.weights_backward = pixel_weights(
            self.flow_backward, self.flow_forward, small_end, small_start, typical, options
        )
        self.full_grid = _pixel_grid(height, width)

    def frame(self, t: float) -> np.ndarray:
        """The in-between frame at time ``t`` in [0, 1] (uint8 RGB)."""
        t = min(max(t, 0.0), 1.0)
        flow_to_start, seen_start = reverse_flow(self.flow_forward, self.weights_forward, t)
        flow_to_end, seen_end = reverse_flow(self.flow_backward, self.weights_backward, 1.0 - t)
        warped_start = self._warp(self.start, flow_to_start)
        warped_end = self._warp(self.end, flow_to_end)
        weight_start = self._full_size((1.0 - t) * seen_start + _EPS * (1.0 - t))
        weight_end = self._full_size(t * seen_end + _EPS * t)
        return cv2.blendLinear(warped_start, warped_end, weight_start, weight_end)

    def _work_image(self, image: np.ndarray) -> np.ndarray:
        height, width = self.work_shape
        if image.shape[:2] == (height, width):
            return image
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)

    def _warp(self, image: np.ndarray, work_flow: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        scaled = np.ascontiguousarray(work_flow * self.flow_scale)
        flow = cv2.resize(scaled, (width, height), interpolation=cv2.INTER_LINEAR)
        return _sample(image, cv2.add(self.full_grid, flow))

    def _full_size(self, work_map: np.ndarray) -> np.ndarray:
        height, width = self.start.shape[:2]
        resized = cv2.resize(work_map, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(resized, dtype=np.float32)


def typical_speed(*flows: np.ndarray) -> float:
    """A robust scale of the motion between the panels (99th percentile speed, plus a pixel)."""
    speeds = np.concatenate([np.linalg.norm(flow, axis=2).ravel() for flow in flows])
    return float(np.percentile(speeds, 99)) + 1.0


def pixel_weights(
    flow: np.ndarray,
    other: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    speed_scale: float,
    options: MorphOptions,
) -> np.ndarray:
    """Per-pixel [importance, trust] of a panel's pixels moving along ``flow``.

    Trust in [0, 1] is how well the pixel matches where its flow leads
    (brightness constancy) times its forward-backward consistency, with
    ``consistency_floor`` so that a well-matched pixel still counts when the
    other direction's flow is wrong. Importance decides collisions: faster
    pixels are usually in front.
    """
    floor = options.consistency_floor
    consistency = forward_backward_consistency(flow, other)
    trust = photometric_match(flow, source, target) * (consistency + floor) / (1.0 + floor)
    speed = np.linalg.norm(flow, axis=2)
    importance = np.exp(options.depth_sharpness * np.minimum(speed / speed_scale, 1.5))
    return np.stack([importance, trust], axis=2).astype(np.float32)


def better_flow(
    flow: np.ndarray,
    other: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    speed_scale: float,
    options: MorphOptions,
) -> np.ndarray:
    """``flow``, with each pixel replaced by the reversed ``other`` flow where that matches better.

    Dense flow often finds a motion in one direction and misses it in the
    other (DIS is not symmetric); turning the good direction around
    (splatting it, as for an in-between frame, all the way to t=1) gives a
    second candidate for every pixel, and brightness constancy picks one.
    """
    speed = np.linalg.norm(other, axis=2)
    importance = np.exp(options.depth_sharpness * np.minimum(speed / speed_scale, 1.5))
    match = photometric_match(other, target, source)
    turned, _ = reverse_flow(other, np.stack([importance, match], axis=2), 1.0)
    gain = photometric_match(turned, source, target) - photometric_match(flow, source, target)
    better = gain > _SWITCH_MARGIN
    return np.where(better[..., None], turned, flow).astype(np.float32)


def reverse_flow(
    flow: np.ndarray, weights: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flow from time ``fraction`` back to the panel, and how visible the panel is there.

    Every pixel is splatted to where it is at that time, carrying the flow
    back to where it came from; pixels landing on one spot share it by
    importance times trust. Visibility is the coverage times the importance-
    weighted trust of what landed: near 1 where well-matched, consistent
    pixels land, low where only doubtful ones do, 0 where nothing lands.
    """
    moved = flow * fraction
    importance, trust = weights[..., 0], weights[..., 1]
    share = importance * trust
    planes = [-moved[..., 0] * share, -moved[..., 1] * share, share, importance]
    splatted = splat(moved, [*planes, np.ones_like(share)])
    reversed_flow = fill_holes(splatted[..., :2], splatted[..., 2])
    mean_trust = splatted[..., 2] / np.maximum(splatted[..., 3], _EPS)
    visibility = np.minimum(splatted[..., 4], 1.0) * mean_trust
    return reversed_flow, visibility.astype(np.float32)


def photometric_match(flow: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How well each pixel of ``source`` matches ``target`` where its flow leads, in [0, 1]."""
    height, width = flow.shape[:2]
    position = _pixel_grid(height, width) + flow
    landed = cv2.remap(
        target,
        position[..., 0],
        position[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    error = cv2.absdiff(source, landed).astype(np.float32).mean(axis=2)
    match = np.exp(-((error / _PHOTOMETRIC_SIGMA) ** 2))
    match[_outside(position, height, width)] = 0.0
    return match


def forward_backward_consistency(flow: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Soft consistency in [0, 1] of ``flow`` with the flow ``other`` of the opposite direction.

    Following a pixel along ``flow`` and then back along ``other`` should
    return it to where it started; where it does not, the pixel is occluded
    in the other image (or the flow is wrong there).
    """
    height, width = flow.shape[:2]
    target = _pixel_grid(height, width) + flow
    back = _sample(other, target)
    error = np.sum((flow + back) ** 2, axis=2)
    tolerance = _CONSISTENCY_ALPHA * (np.sum(flow**2, axis=2) + np.sum(back**2, axis=2))
    consistency = np.exp(-error / (tolerance + _CONSISTENCY_BETA))
    consistency[_outside(target, height, width)] = 0.0
    return consistency.astype(np.float32)


def splat(displacement: np.ndarray, planes: Sequence[np.ndarray]) -> np.ndarray:
    """Forward-warp ``planes`` (C arrays [H, W]) by ``displacement``; returns [H, W, C] sums.

    Each source pixel is added to the pixel nearest to where it lands, and the
    sums are then spread by a small Gaussian, which closes the one-pixel
    cracks that stretching leaves. A plane of ones gives the coverage. This
    costs a quarter of bilinear splatting, and the result only steers flow
    and weights, which are smooth anyway. Pixels landing outside the frame go
    to one extra bin that is dropped, which is cheaper than masking them out.
    """
    height, width = displacement.shape[:2]
    size = height * width
    target = np.floor(_pixel_grid(height, width) + displacement + 0.5).astype(np.int32)
    x, y = target[..., 0], target[..., 1]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    index = np.where(inside, y * width + x, size).ravel()
    sums = np.empty((height, width, len(planes)), dtype=np.float32)
    for channel, plane in enumerate(planes):
        counted = np.bincount(index, weights=plane.ravel(), minlength=size + 1)
        sums[..., channel] = counted[:size].reshape(height, width)
    return cv2.GaussianBlur(sums, (3, 3), _SPLAT_SIGMA)


def fill_holes(weighted_values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Normalise splatted values; fill pixels nothing reached from the nearest reached ones.

    Normalised convolution on a pyramid: the weighted values and the weights
    are halved in size together, so a coarse level's ratio averages only
    reached pixels, and each hole takes its value from the finest level
    where anything around it was reached.
    """
    result = weighted_values / np.maximum(weights, _EPS)[..., None]
    holes = weights <= _EPS
    if not holes.any():
        return result
    levels = [(weighted_values, weights)]
    while min(levels[-1][1].shape) > _COARSEST_FILL_LEVEL:
        values, level_weights = levels[-1]
        levels.append((cv2.pyrDown(values), cv2.pyrDown(level_weights)))
    estimate = np.zeros_like(levels[-1][0])
    for values, level_weights in reversed(levels):
        height, width = level_weights.shape
        coarser = cv2.resize(estimate, (width, height), interpolation=cv2.INTER_LINEAR)
        reached = (level_weights > _EPS)[..., None]
        estimate = np.where(reached, values / np.maximum(level_weights, _EPS)[..., None], coarser)
    return estimate.astype(np.float32)


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` at ``size`` (width, height), with area filtering when shrinking."""
    width, height = size
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width < image.shape[1] or height < image.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _sample(image: np.ndarray, position: np.ndarray) -> np.ndarray:
    """``image`` read at ``position`` [H, W, 2] (x, y), bilinear, edges repeated."""
    return cv2.remap(image, position, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _outside(position: np.ndarray, height: int, width: int) -> np.ndarray:
    x, y = position[..., 0], position[..., 1]
    return (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)


def _pixel_grid(height: int, width: int) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.stack([xs, ys], axis=2)
