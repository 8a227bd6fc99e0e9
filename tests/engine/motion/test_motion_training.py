"""Training the motion predictor on synthetic videos: the loss falls, runs resume exactly."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from storyboard_app.engine.motion import clips
from storyboard_app.engine.motion.encoder import ClipImageEncoder
from storyboard_app.engine.motion.errors import (
    TrainingCancelled,
    TrainingDataError,
    TrainingStateError,
)
from storyboard_app.engine.motion.predictor import load_predictor
from storyboard_app.engine.motion.training import (
    TrainingOptions,
    TrainingProgress,
    train_motion_predictor,
)
from storyboard_app.project.errors import ValidationError

SMALL_MODEL = {"width": 32, "layers": 2, "heads": 4}


def options(videos: Path, out: Path, **changes: object) -> TrainingOptions:
    base = TrainingOptions(
        videos=videos,
        out=out,
        steps=150,
        batch=16,
        frames=8,
        lr=1e-3,
        val_split=0.2,
        stride=1,
        eval_every=50,
        checkpoint_every=100,
        **SMALL_MODEL,
    )
    return dataclasses.replace(base, **changes)


def test_training_reduces_the_loss(
    video_folder: Path, tiny_encoder: ClipImageEncoder, tmp_path: Path
) -> None:
    events: list[TrainingProgress] = []
    result = train_motion_predictor(
        options(video_folder, tmp_path / "motion.safetensors"),
        tiny_encoder,
        on_progress=events.append,
    )
    losses = [e.loss for e in events if e.stage == "training" and e.loss is not None]
    assert len(losses) == 150 and result.steps == 150
    assert (result.train_videos, result.val_videos) == (8, 2)
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    assert last < 0.75 * first, (first, last)
    assert result.initial_val_loss is not None and result.final_val_loss is not None
    assert result.final_val_loss < 0.95 * result.initial_val_loss
    assert [e.step for e in events if e.stage == "encoding"][-1] == 10
    trained = load_predictor(result.weights)
    assert trained.config.frames == 6 and trained.config.embed_dim == tiny_encoder.embed_dim


def test_a_resumed_run_matches_an_uninterrupted_one(
    video_folder: Path,
    tiny_encoder: ClipImageEncoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = options(video_folder, tmp_path / "whole" / "m.safetensors", steps=6)
    train_motion_predictor(whole, tiny_encoder)

    split = options(video_folder, tmp_path / "split" / "m.safetensors", steps=3)
    train_motion_predictor(split, tiny_encoder)

    def no_encoding(*args: object) -> torch.Tensor:
        raise AssertionError("videos were encoded again instead of read from the cache")

    monkeypatch.setattr(clips, "embed_video", no_encoding)
    resumed = train_motion_predictor(dataclasses.replace(split, steps=6, resume=True), tiny_encoder)
    assert resumed.steps == 6
    expected = load_predictor(whole.out).state_dict()
    actual = load_predictor(split.out).state_dict()
    assert all(torch.equal(expected[name], actual[name]) for name in expected)


def test_cancel_saves_a_checkpoint_that_resumes(
    video_folder: Path, tiny_encoder: ClipImageEncoder, tmp_path: Path
) -> None:
    run = options(video_folder, tmp_path / "m.safetensors", steps=5, val_split=0.0)
    trained: list[TrainingProgress] = []

    def record(event: TrainingProgress) -> None:
        if event.stage == "training":
            trained.append(event)

    with pytest.raises(TrainingCancelled, match="step 2") as raised:
        train_motion_predictor(
            run, tiny_encoder, on_progress=record, is_cancelled=lambda: len(trained) == 2
        )
    assert "--resume" in raised.value.hint and run.checkpoint.is_file()
    resumed = train_motion_predictor(dataclasses.replace(run, resume=True), tiny_encoder)
    assert resumed.steps == 5 and resumed.initial_val_loss is None


def test_settings_that_cannot_resume_are_refused(
    video_folder: Path, tiny_encoder: ClipImageEncoder, tmp_path: Path
) -> None:
    run = options(video_folder, tmp_path / "m.safetensors", steps=2, val_split=0.0)
    with pytest.raises(TrainingStateError, match="no checkpoint"):
        train_motion_predictor(dataclasses.replace(run, resume=True), tiny_encoder)
    train_motion_predictor(run, tiny_encoder)
    with pytest.raises(TrainingStateError, match="already exists"):
        train_motion_predictor(run, tiny_encoder)
    with pytest.raises(TrainingStateError, match="frames = 8"):
        train_motion_predictor(
            dataclasses.replace(run, resume=True, steps=4, frames=6), tiny_encoder
        )
    with pytest.raises(TrainingStateError, match="already at step 2"):
        train_motion_predictor(dataclasses.replace(run, resume=True), tiny_encoder)


def test_unusable_video_folders_are_explained(
    video_folder: Path, tiny_encoder: ClipImageEncoder, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrainingDataError, match="holds no videos"):
        train_motion_predictor(options(empty, tmp_path / "a.safetensors"), tiny_encoder)
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(video_folder / "arc_0.avi", single)
    with pytest.raises(TrainingDataError, match="at least two videos"):
        train_motion_predictor(options(single, tmp_path / "b.safetensors"), tiny_encoder)
    too_long = options(single, tmp_path / "c.safetensors", val_split=0.0, frames=40)
    with pytest.raises(TrainingDataError, match="longest has 32"):
        train_motion_predictor(too_long, tiny_encoder)
    with pytest.raises(ValidationError, match="--frames"):
        options(single, tmp_path / "d.safetensors", frames=2)
