"""``storyboard train-motion`` from the command line, and its weights in a generated transition."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import png_bytes

from storyboard_app.cli import main, train_motion
from storyboard_app.engine.motion.encoder import DEFAULT_ENCODER_SOURCE
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

TRAIN = ["--encoder", "tiny", "--frames", "8", "--stride", "1", "--batch", "8", "--lr", "1e-3"]
SMALL = ["--width", "32", "--layers", "1", "--heads", "4", "--val-split", "0.2"]


def test_train_resume_and_use_the_predictor(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "motion.safetensors"
    base = ["train-motion", "--videos", str(video_folder), "--out", str(weights), *TRAIN, *SMALL]
    assert main([*base, "--steps", "4"]) == 0
    captured = capsys.readouterr()
    assert "Trained 4 steps on 8 videos (2 held out" in captured.out
    assert "Validation loss" in captured.out and "training" in captured.err
    assert main([*base, "--steps", "6"]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main([*base, "--steps", "6", "--resume"]) == 0
    assert "Trained 6 steps" in capsys.readouterr().out

    project = make_project(tmp_path)
    args = ["transition", str(project), "--between", "1", "2", "--kind", "motion", "--model"]
    args += ["tiny", "--predictor", str(weights), "--frames", "4", "--size", "64x64"]
    assert main([*args, "--steps", "1"]) == 0
    with ProjectStore.open(project) as store:
        (record,) = store.transitions.list()
    assert record.settings["sources"]["predictor"] == str(weights)


def test_bad_arguments_are_explained(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out", str(tmp_path / "motion.pt")]
    assert main(["train-motion", "--videos", str(video_folder), *out, *TRAIN]) == 1
    assert "should end in .safetensors" in capsys.readouterr().err
    out = ["--out", str(tmp_path / "m.safetensors")]
    assert main(["train-motion", "--videos", str(tmp_path / "none"), *out, *TRAIN]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["train-motion", "--videos", str(video_folder), *out, *TRAIN, "--lr", "0"]) == 1
    assert "--lr must be positive" in capsys.readouterr().err


def test_the_default_encoder_is_the_engine_default() -> None:
    assert train_motion.DEFAULT_ENCODER == DEFAULT_ENCODER_SOURCE


def make_project(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "film.storyboard") as store:
        params = TakeParams(width=64, height=64, source="imported")
        for colour in ("red", "blue"):
            scene = store.scenes.add(f"a {colour} wall")
            store.takes.add(scene.id, png_bytes(colour, (64, 64)), params)
        return store.folder
