"""MP4 animatic: the timeline encoded as H.264 in yuv420p, which every ordinary player opens.

PyAV ships its own FFmpeg (with libx264), so this works the same inside the
installer. Frames come from :class:`TimelineFrames` one by one, so memory
stays flat however long the story is; the file is written to a temporary
sibling and renamed into place only when the encoder has finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from storyboard_app.export.animatic import FrameOptions, animatic_frames
from storyboard_app.export.errors import ExportError, ExportOptionsError
from storyboard_app.export.frames import TimelineFrames
from storyboard_app.export.output import atomic_file, check_output_file
from storyboard_app.export.progress import (
    CancelCheck,
    ProgressCallback,
    Steps,
    never_cancelled,
    no_progress,
)
from storyboard_app.export.result import ExportResult
from storyboard_app.project.store import ProjectStore

# FFmpeg's colour tags (AVColorSpace, AVColorRange, AVColorPrimaries/AVColorTransferCharacteristic).
SMPTE170M_MATRIX = 6
MPEG_RANGE = 1
BT709 = 1
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")


@dataclass(frozen=True)
class VideoOptions(FrameOptions):
    """Frame options plus the encoder's: ``quality`` is x264's CRF (0 lossless, 18 looks
    transparent, 28 is small) and ``preset`` trades encoding time for file size."""

    quality: int = 20
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size is not None and (self.size[0] % 2 or self.size[1] % 2):
            raise ExportOptionsError(
                f"H.264 video in yuv420p needs an even width and height, not "
                f"{self.size[0]}x{self.size[1]}.",
                "Use even numbers, e.g. 1280x720.",
            )
        if not 0 <= self.quality <= 51:
            raise ExportOptionsError(
                f"Quality {self.quality} is out of range.",
                "Use a CRF from 0 (lossless) to 51 (smallest); 18-23 is usual.",
            )
        if self.preset not in PRESETS:
            raise ExportOptionsError(
                f"{self.preset!r} is not an x264 preset.", "Use one of: " + ", ".join(PRESETS) + "."
            )


def export_mp4(
    store: ProjectStore,
    path: Path | str,
    options: VideoOptions | None = None,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Encode the project's animatic to ``path``; the file appears only when complete."""
    options = options or VideoOptions()
    target = check_output_file(path, (".mp4", ".m4v"))
    frames = animatic_frames(store, options)
    steps = Steps("MP4", len(frames), "frames", on_progress, is_cancelled)
    steps.check_cancel()
    with atomic_file(target) as temp:
        encode(frames, temp, options, steps)
    return ExportResult(target, len(frames), "frames")


def encode(frames: TimelineFrames, path: Path, options: VideoOptions, steps: Steps) -> None:
    """Write every frame as H.264 yuv420p in an MP4 whose time base is one frame."""
    rate = Fraction(frames.frame_rate)
    try:
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = add_h264_stream(out, rate, frames.size, options)
            for index in range(len(frames)):
                frame = av.VideoFrame.from_ndarray(to_yuv420p(frames.frame(index)), "yuv420p")
                frame.pts = index
                frame.time_base = 1 / rate
                out.mux(stream.encode(frame))
                steps.advance()
            out.mux(stream.encode(None))
    except av.FFmpegError as exc:
        raise ExportError(
            f"The video encoder failed: {exc}.",
            "Try another frame size or preset; report it if it persists.",
        ) from exc


def add_h264_stream(
    out: av.container.OutputContainer,
    rate: Fraction,
    size: tuple[int, int],
    options: VideoOptions,
) -> av.VideoStream:
    """An x264 stream tagged with the colour conversion :func:`to_yuv420p` uses.

    Players guess BT.709 for untagged HD video; the tags make them decode the
    BT.601 matrix the frames were converted with, so colours match the panels.
    """
    stream = out.add_stream(
        "libx264", rate=rate, options={"crf": str(options.quality), "preset": options.preset}
    )
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / rate
    context = stream.codec_context
    context.colorspace = SMPTE170M_MATRIX
    context.color_range = MPEG_RANGE
    context.color_primaries = BT709
    context.color_trc = BT709
    return stream


def to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """RGB to planar 4:2:0 (BT.601, limited range), ten times faster than swscale here."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def preview_first_frame(store: ProjectStore, options: VideoOptions | None = None) -> Image.Image:
    """The animatic's first frame as the MP4 would show it."""
    return animatic_frames(store, options or VideoOptions()).image(0)
