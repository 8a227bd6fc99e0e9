"""Training the Semantic Motion Predictor on clips from a folder of videos.

Each clip's first and last frames are the keys; the target is the CLIP
embeddings of the frames between them, matched with MSE plus a cosine term
(MSE alone lets the direction, which is what IP-Adapter mostly responds to,
drift while the length is right). The batch at step ``k`` is drawn from a
generator seeded with ``(seed, k)``, so a run resumed from a checkpoint
sees exactly the batches an uninterrupted run would have seen.

A checkpoint is one .safetensors file (predictor and AdamW state as tensors,
everything else as JSON metadata), written atomically next to the weights;
no pickle is ever written or read.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import nn

from storyboard_app.engine.motion.clips import (
    ClipBatch,
    ClipSampler,
    embed_videos,
    find_videos,
    split_videos,
)
from storyboard_app.engine.motion.encoder import ClipImageEncoder
from storyboard_app.engine.motion.errors import (
    MotionPredictorError,
    TrainingCancelled,
    TrainingStateError,
)
from storyboard_app.engine.motion.predictor import (
    PredictorConfig,
    SemanticMotionPredictor,
    read_safetensors,
    save_predictor,
)
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.files import atomic_write

CHECKPOINT_SUFFIX = ".training.safetensors"
EMBEDDINGS_SUFFIX = ".embeddings.safetensors"
_STATE_KEY = "storyboard.training_state"
# Settings a resumed run must share with the checkpoint; the rest (steps,
# cadences) may change between runs.
_RESUME_SETTINGS = (
    "frames",
    "batch",
    "lr",
    "stride",
    "seed",
    "val_split",
    "cosine_weight",
    "weight_decay",
)


@dataclass(frozen=True)
class TrainingOptions:
    """Everything that defines a training run; ``out`` is the predictor weights file."""

    videos: Path
    out: Path
    steps: int = 2000
    batch: int = 16
    frames: int = 16
    lr: float = 1e-4
    val_split: float = 0.1
    stride: int = 2
    seed: int = 0
    resume: bool = False
    checkpoint_every: int = 200
    eval_every: int = 100
    validation_clips: int = 256
    cosine_weight: float = 1.0
    weight_decay: float = 0.01
    width: int = 512
    layers: int = 4
    heads: int = 8

    def __post_init__(self) -> None:
        checks = [
            (self.steps >= 1, "--steps must be at least 1."),
            (self.batch >= 1, "--batch must be at least 1."),
            (self.frames >= 3, "--frames must be at least 3 (two keys and a frame between)."),
            (self.lr > 0, "--lr must be positive."),
            (0 <= self.val_split < 1, "--val-split must be from 0 up to (not including) 1."),
            (self.stride >= 1, "--stride must be at least 1."),
            (self.checkpoint_every >= 1, "--checkpoint-every must be at least 1."),
            (self.eval_every >= 1, "The evaluation interval must be at least 1."),
        ]
        for ok, problem in checks:
            if not ok:
                raise ValidationError(problem, "Fix the option and run the command again.")

    @property
    def checkpoint(self) -> Path:
        return self.out.with_name(self.out.name.removesuffix(".safetensors") + CHECKPOINT_SUFFIX)

    @property
    def embeddings_cache(self) -> Path:
        return self.out.with_name(self.out.name.removesuffix(".safetensors") + EMBEDDINGS_SUFFIX)

    def predictor_config(self, embed_dim: int) -> PredictorConfig:
        return PredictorConfig(
            embed_dim=embed_dim,
            width=self.width,
            layers=self.layers,
            heads=self.heads,
            frames=self.frames - 2,
        )

    def resume_settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RESUME_SETTINGS}


@dataclass(frozen=True)
class TrainingProgress:
    """One step of a run: ``stage`` is "encoding" (step = videos done) or "training"."""

    stage: str
    step: int
    steps: int
    loss: float | None = None
    val_loss: float | None = None


@dataclass(frozen=True)
class TrainingResult:
    """How a run went: losses at its first and last steps, and where the files are."""

    weights: Path
    checkpoint: Path
    steps: int
    train_videos: int
    val_videos: int
    first_loss: float
    last_loss: float
    initial_val_loss: float | None
    final_val_loss: float | None


@dataclass
class _RunState:
    """What a checkpoint restores: the model, its optimizer, the step and the loss history."""

    predictor: SemanticMotionPredictor
    optimizer: torch.optim.Optimizer
    step: int
    history: dict[str, float | None]


TrainingEvents = Callable[[TrainingProgress], None]


def motion_loss(
    predicted: torch.Tensor, target: torch.Tensor, cosine_weight: float = 1.0
) -> torch.Tensor:
    """MSE plus ``cosine_weight`` times the mean cosine distance, per embedding."""
    mse = nn.functional.mse_loss(predicted, target)
    cosine = 1 - nn.functional.cosine_similarity(predicted, target, dim=-1).mean()
    return mse + cosine_weight * cosine


def train_motion_predictor(
    options: TrainingOptions,
    encoder: ClipImageEncoder,
    *,
    device: str | torch.device = "cpu",
    on_progress: TrainingEvents = lambda event: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> TrainingResult:
    """Train (or resume) a predictor on ``options.videos`` and write ``options.out``.

    The checkpoint is written every ``checkpoint_every`` steps, at the end,
    and when the run is cancelled or interrupted, so it can always be resumed.
    """
    paths = find_videos(options.videos)
    videos = embed_videos(
        paths,
        options.videos,
        encoder,
        options.stride,
        cache=options.embeddings_cache,
        on_video=lambda done, total: on_progress(TrainingProgress("encoding", done, total)),
    )
    train_videos, val_videos = split_videos(videos, options.val_split, options.seed)
    sampler = ClipSampler(train_videos, options.frames)
    validation = (
        ClipSampler(val_videos, options.frames, "validation").evenly(options.validation_clips)
        if val_videos
        else None
    )
    run = _Run(options, encoder, device, _start(options, encoder, device))
    history = run.train(sampler, validation, on_progress, is_cancelled)
    return TrainingResult(
        weights=options.out,
        checkpoint=options.checkpoint,
        steps=run.state.step,
        train_videos=len(train_videos),
        val_videos=len(val_videos),
        first_loss=_number(history.get("first_loss")),
        last_loss=_number(history.get("last_loss")),
        initial_val_loss=history.get("initial_val_loss"),
        final_val_loss=history.get("val_loss"),
    )


def evaluate(
    predictor: SemanticMotionPredictor,
    clips: ClipBatch,
    options: TrainingOptions,
    device: str | torch.device,
) -> float:
    """Mean loss on a fixed set of clips, with the predictor in eval mode."""
    predictor.eval()
    with torch.no_grad():
        batch = clips.to(device)
        predicted = predictor(batch.start, batch.end, batch.between.shape[1])
        loss = motion_loss(predicted, batch.between, options.cosine_weight)
    predictor.train()
    return float(loss)


class _Run:
    """One training run in progress: its state, and where and how it is saved."""

    def __init__(
        self,
        options: TrainingOptions,
        encoder: ClipImageEncoder,
        device: str | torch.device,
        state: _RunState,
    ) -> None:
        self.options = options
        self.encoder = encoder
        self.device = device
        self.state = state

    def train(
        self,
        sampler: ClipSampler,
        validation: ClipBatch | None,
        on_progress: TrainingEvents,
        is_cancelled: Callable[[], bool],
    ) -> dict[str, float | None]:
        """Run the remaining steps; save the checkpoint however the loop ends."""
        history = self.state.history
        if history.get("initial_val_loss") is None and validation is not None:
            history["initial_val_loss"] = self.evaluate(validation)
        try:
            while self.state.step < self.options.steps:
                if is_cancelled():
                    raise TrainingCancelled(self.state.step, str(self.options.checkpoint))
                on_progress(self.step(sampler, validation))
        except (TrainingCancelled, KeyboardInterrupt):
            self.save_checkpoint()
            raise
        self.save_all()
        return history

    def step(self, sampler: ClipSampler, validation: ClipBatch | None) -> TrainingProgress:
        """One optimiser step, with validation and checkpoints when they are due."""
        options, state = self.options, self.state
        batch = sampler.sample(options.batch, _step_generator(options.seed, state.step))
        loss = _optimise(state, batch.to(self.device), options)
        state.step += 1
        if state.history.get("first_loss") is None:
            state.history["first_loss"] = loss
        state.history["last_loss"] = loss
        val_loss = None
        due = state.step % options.eval_every == 0 or state.step == options.steps
        if validation is not None and due:
            val_loss = state.history["val_loss"] = self.evaluate(validation)
        if state.step % options.checkpoint_every == 0 and state.step < options.steps:
            self.save_all()
        return TrainingProgress("training", state.step, options.steps, loss, val_loss)

    def evaluate(self, validation: ClipBatch) -> float:
        return evaluate(self.state.predictor, validation, self.options, self.device)

    def save_all(self) -> None:
        """The usable weights file and the resumable checkpoint, both atomically."""
        metadata = {"image_encoder": self.encoder.source, "training_steps": str(self.state.step)}
        save_predictor(self.state.predictor, self.options.out, metadata)
        self.save_checkpoint()

    def save_checkpoint(self) -> None:
        state = self.state
        tensors = {
            f"model.{name}": value.detach().cpu().contiguous()
            for name, value in state.predictor.state_dict().items()
        }
        optimizer_state = state.optimizer.state_dict()
        for index, values in optimizer_state["state"].items():
            for key, value in values.items():
                tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu()
        record = {
            "step": state.step,
            "config": dataclasses.asdict(state.predictor.config),
            "settings": self.options.resume_settings(),
            "param_groups": optimizer_state["param_groups"],
            "history": state.history,
            "image_encoder": self.encoder.source,
        }
        metadata = {"format": "pt", _STATE_KEY: json.dumps(record, sort_keys=True)}
        atomic_write(self.options.checkpoint, save(tensors, metadata=metadata))


def _optimise(state: _RunState, batch: ClipBatch, options: TrainingOptions) -> float:
    predicted = state.predictor(batch.start, batch.end, batch.between.shape[1])
    loss = motion_loss(predicted, batch.between, options.cosine_weight)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(state.predictor.parameters(), 1.0)
    state.optimizer.step()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise TrainingStateError(
            f"The training loss became {value} at step {state.step + 1}.",
            "Lower the learning rate (--lr) and start again.",
        )
    return value


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def _start(
    options: TrainingOptions, encoder: ClipImageEncoder, device: str | torch.device
) -> _RunState:
    checkpoint = options.checkpoint
    if options.resume:
        if not checkpoint.is_file():
            raise TrainingStateError(
                f"There is no checkpoint to resume at {checkpoint}.",
                "Train without --resume first, or give the --out of the run to resume.",
            )
        return _load_checkpoint(checkpoint, options, encoder, device)
    if checkpoint.is_file():
        raise TrainingStateError(
            f"A training checkpoint already exists at {checkpoint}.",
            "Pass --resume to continue that run, or delete the checkpoint to start over.",
        )
    torch.manual_seed(options.seed)
    predictor = SemanticMotionPredictor(options.predictor_config(encoder.embed_dim)).to(device)
    return _RunState(predictor, _optimizer(predictor, options), 0, {"first_loss": None})


def _optimizer(predictor: SemanticMotionPredictor, options: TrainingOptions) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        predictor.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )


def _load_checkpoint(
    path: Path, options: TrainingOptions, encoder: ClipImageEncoder, device: str | torch.device
) -> _RunState:
    try:
        tensors, metadata = read_safetensors(path, "training checkpoint")
        record = json.loads(metadata[_STATE_KEY])
    except (MotionPredictorError, KeyError, json.JSONDecodeError) as exc:
        raise TrainingStateError(
            f"The checkpoint {path} cannot be read ({exc}).",
            "Delete it and start the training again.",
        ) from None
    _check_resumable(record, options, encoder, path)
    predictor = SemanticMotionPredictor(PredictorConfig(**record["config"]))
    predictor.load_state_dict(_prefixed(tensors, "model."))
    predictor.to(device)
    optimizer = _optimizer(predictor, options)
    optimizer.load_state_dict(_optimizer_state(tensors, record["param_groups"]))
    return _RunState(predictor, optimizer, int(record["step"]), record["history"])


def _check_resumable(
    record: dict[str, Any], options: TrainingOptions, encoder: ClipImageEncoder, path: Path
) -> None:
    saved = record["settings"]
    for name, value in options.resume_settings().items():
        if saved.get(name) != value:
            raise TrainingStateError(
                f"The checkpoint {path.name} was trained with {name} = {saved.get(name)}, "
                f"not {value}.",
                f"Resume with the same {name}, or start a new run with another --out.",
            )
    if record["image_encoder"] != encoder.source:
        raise TrainingStateError(
            f"The checkpoint was trained with the image encoder {record['image_encoder']}, "
            f"not {encoder.source}.",
            "Resume with the same --encoder.",
        )
    if record["step"] >= options.steps:
        raise TrainingStateError(
            f"The checkpoint is already at step {record['step']} of {options.steps}.",
            "Give a larger --steps to train further.",
        )


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def _optimizer_state(
    tensors: dict[str, torch.Tensor], param_groups: list[dict[str, Any]]
) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _prefixed(tensors, "optimizer.").items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": param_groups}


def _number(value: float | None) -> float:
    return float("nan") if value is None else value
