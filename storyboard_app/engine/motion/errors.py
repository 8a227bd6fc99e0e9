"""Errors of the motion predictor and its training, each with a hint that names the fix."""

from __future__ import annotations

from storyboard_app.engine.errors import EngineError, ModelLoadError


class MotionPredictorError(ModelLoadError):
    """A predictor weights file that is missing, unsafe, damaged or made for another encoder."""


class TrainingDataError(EngineError):
    """A video folder that cannot give training clips (empty, unreadable, too short)."""


class TrainingStateError(EngineError):
    """A checkpoint that is missing, damaged or made with other settings than a resumed run."""


class TrainingCancelled(EngineError):
    """Training was stopped; the last checkpoint (written on the way out) can be resumed."""

    def __init__(self, step: int, checkpoint: str) -> None:
        super().__init__(
            f"Training was stopped at step {step}.",
            f"Resume it with --resume (checkpoint: {checkpoint}).",
        )
        self.step = step
