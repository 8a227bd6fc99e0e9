"""Training clips for the motion predictor, from a folder of ordinary videos.

Every video is decoded once (OpenCV), every kept frame is encoded once with
the CLIP image encoder, and only the embeddings are kept: a clip is then a
slice of a video's embedding table, so sampling thousands of clips costs
nothing. The tables are cached next to the weights, keyed by the videos'
names, sizes and dates, the frame stride and the encoder, so resuming a run
never encodes the videos again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import save

from storyboard_app.engine.motion.encoder import ClipImageEncoder
from storyboard_app.engine.motion.errors import MotionPredictorError, TrainingDataError
from storyboard_app.engine.motion.predictor import read_safetensors
from storyboard_app.project.files import atomic_write

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
ENCODE_CHUNK = 64
_FINGERPRINT_KEY = "storyboard.embedding_fingerprint"


@dataclass(frozen=True)
class EmbeddedVideo:
    """A video's kept frames as CLIP image embeddings [frames, D]."""

    name: str
    embeddings: torch.Tensor

    @property
    def frame_count(self) -> int:
        return int(self.embeddings.shape[0])


@dataclass(frozen=True)
class ClipBatch:
    """Clips as the predictor sees them: the two keys and the frames between them."""

    start: torch.Tensor
    end: torch.Tensor
    between: torch.Tensor

    def to(self, device: str | torch.device) -> ClipBatch:
        return ClipBatch(self.start.to(device), self.end.to(device), self.between.to(device))


def find_videos(folder: Path) -> list[Path]:
    """Every video file under ``folder`` (recursively), in a stable order."""
    if not folder.is_dir():
        raise TrainingDataError(
            f"The video folder {folder} does not exist.", "Give a folder that holds videos."
        )
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise TrainingDataError(
            f"{folder} holds no videos.",
            "Add video files (" + ", ".join(sorted(VIDEO_SUFFIXES)) + ") to the folder.",
        )
    return videos


def iter_frames(path: Path, stride: int) -> Iterator[np.ndarray]:
    """Every ``stride``-th frame of a video as RGB uint8; nothing if it cannot be decoded."""
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while capture.grab():
            if index % stride == 0:
                ok, frame = capture.retrieve()
                if not ok:
                    break
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def embed_video(path: Path, encoder: ClipImageEncoder, stride: int) -> torch.Tensor:
    """CLIP embeddings of every ``stride``-th frame, encoded in chunks to bound memory."""
    chunks: list[torch.Tensor] = []
    pending: list[np.ndarray] = []
    for frame in iter_frames(path, stride):
        pending.append(frame)
        if len(pending) == ENCODE_CHUNK:
            chunks.append(encoder.encode(pending))
            pending = []
    if pending:
        chunks.append(encoder.encode(pending))
    return torch.cat(chunks) if chunks else torch.zeros(0, encoder.embed_dim)


def embed_videos(
    paths: Sequence[Path],
    root: Path,
    encoder: ClipImageEncoder,
    stride: int,
    cache: Path | None = None,
    on_video: Callable[[int, int], None] = lambda done, total: None,
) -> list[EmbeddedVideo]:
    """Embedding tables of ``paths``: from ``cache`` when it matches, else computed and saved."""
    fingerprint = videos_fingerprint(paths, root, encoder, stride)
    cached = _read_cache(cache, fingerprint) if cache is not None else None
    if cached is not None:
        return cached
    videos = []
    for done, path in enumerate(paths):
        on_video(done, len(paths))
        videos.append(
            EmbeddedVideo(str(path.relative_to(root)), embed_video(path, encoder, stride))
        )
    on_video(len(paths), len(paths))
    if cache is not None:
        _write_cache(cache, fingerprint, videos)
    return videos


def videos_fingerprint(
    paths: Sequence[Path], root: Path, encoder: ClipImageEncoder, stride: int
) -> str:
    """What the embedding tables depend on: the files, the stride and the encoder."""
    files = [[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
    return json.dumps(
        {"files": files, "stride": stride, "encoder": encoder.source, "dim": encoder.embed_dim},
        sort_keys=True,
    )


def split_videos(
    videos: Sequence[EmbeddedVideo], val_split: float, seed: int
) -> tuple[list[EmbeddedVideo], list[EmbeddedVideo]]:
    """Training and validation videos; whole videos go to one side so no clip leaks across."""
    if val_split <= 0:
        return list(videos), []
    if len(videos) < 2:
        raise TrainingDataError(
            "A validation split needs at least two videos; the folder has one.",
            "Add videos, or train without validation (--val-split 0).",
        )
    order = torch.randperm(len(videos), generator=torch.Generator().manual_seed(seed)).tolist()
    count = min(len(videos) - 1, max(1, round(len(videos) * val_split)))
    held_out = set(order[:count])
    train = [v for i, v in enumerate(videos) if i not in held_out]
    return train, [v for i, v in enumerate(videos) if i in held_out]


class ClipSampler:
    """Draws clips of ``frames`` consecutive kept frames from embedded videos."""

    def __init__(
        self, videos: Sequence[EmbeddedVideo], frames: int, what: str = "training"
    ) -> None:
        self.frames = frames
        self.videos = [v for v in videos if v.frame_count >= frames]
        if not self.videos:
            longest = max((v.frame_count for v in videos), default=0)
            raise TrainingDataError(
                f"No {what} video has {frames} frames to make a clip (the longest has "
                f"{longest} after the frame stride).",
                "Use fewer --frames, a smaller --stride, or longer videos.",
            )
        self.starts = torch.tensor([v.frame_count - frames + 1 for v in self.videos])

    @property
    def clip_count(self) -> int:
        """Number of distinct clips (every start position in every video)."""
        return int(self.starts.sum())

    def sample(self, batch: int, generator: torch.Generator) -> ClipBatch:
        """``batch`` random clips; every start position in every video is equally likely."""
        flat = torch.randint(0, self.clip_count, (batch,), generator=generator)
        return self._gather(flat.tolist())

    def evenly(self, count: int) -> ClipBatch:
        """Up to ``count`` clips spread evenly over all start positions (a fixed validation set)."""
        total = self.clip_count
        positions = torch.linspace(0, total - 1, min(count, total)).round().long()
        return self._gather(positions.tolist())

    def _gather(self, flat_positions: Sequence[int]) -> ClipBatch:
        offsets = torch.cumsum(self.starts, 0) - self.starts
        clips = []
        for position in flat_positions:
            video = int(torch.searchsorted(offsets, position, right=True)) - 1
            start = position - int(offsets[video])
            clips.append(self.videos[video].embeddings[start : start + self.frames])
        stacked = torch.stack(clips)
        return ClipBatch(start=stacked[:, 0], end=stacked[:, -1], between=stacked[:, 1:-1])


def _read_cache(path: Path, fingerprint: str) -> list[EmbeddedVideo] | None:
    """The cached tables if they were made from the same inputs; a damaged cache is recomputed."""
    if not path.is_file():
        return None
    try:
        tensors, metadata = read_safetensors(path, "embedding cache")
    except MotionPredictorError:
        return None
    if metadata.get(_FINGERPRINT_KEY) != fingerprint:
        return None
    names = json.loads(metadata["names"])
    return [EmbeddedVideo(name, tensors[f"video.{i}"]) for i, name in enumerate(names)]


def _write_cache(path: Path, fingerprint: str, videos: Sequence[EmbeddedVideo]) -> None:
    tensors = {f"video.{i}": v.embeddings.contiguous() for i, v in enumerate(videos)}
    metadata = {_FINGERPRINT_KEY: fingerprint, "names": json.dumps([v.name for v in videos])}
    atomic_write(path, save(tensors, metadata=metadata))
