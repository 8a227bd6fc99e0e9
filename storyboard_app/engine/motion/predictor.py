"""The Semantic Motion Predictor: the CLIP image embeddings of the frames between two panels.

StoryDiffusion conditions a video model on a path through CLIP image space
that starts at the first panel and ends at the second. The obvious path is
the spherical interpolation (slerp) of the two embeddings; a small
transformer over [start, end, one learned query per intermediate frame]
learns how real motion departs from it. Its output projection starts at
zero, so an untrained predictor returns the slerp exactly: the feature works
before any training and training can only refine it.

Weights are stored as .safetensors with the configuration in the file's
metadata, so one file is a complete predictor and loading never unpickles.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from storyboard_app.engine.motion.errors import MotionPredictorError
from storyboard_app.engine.motion.sources import resolve_component
from storyboard_app.project.files import atomic_write

CONFIG_METADATA_KEY = "storyboard.motion_predictor"
_PARALLEL_THRESHOLD = 1e-4


@dataclass(frozen=True)
class PredictorConfig:
    """Shape of a predictor.

    ``embed_dim`` is the CLIP projection width of the image encoder it was
    trained with (1024 for IP-Adapter's ViT-H/14). ``frames`` is the number of
    learned frame queries (intermediate frames of a training clip); other
    frame counts interpolate between the learned queries.
    """

    embed_dim: int = 1024
    width: int = 512
    layers: int = 4
    heads: int = 8
    frames: int = 14
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        for name in ("embed_dim", "width", "layers", "heads", "frames"):
            if getattr(self, name) < 1:
                raise MotionPredictorError(
                    f"The predictor's {name} must be at least 1, not {getattr(self, name)}.",
                    "Check the predictor settings.",
                )
        if self.width % self.heads:
            raise MotionPredictorError(
                f"The predictor width {self.width} is not divisible by {self.heads} heads.",
                "Choose a width that is a multiple of the number of heads.",
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PredictorConfig:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def frame_times(count: int, device: torch.device | None = None) -> torch.Tensor:
    """Times in (0, 1) of ``count`` frames strictly between two keys at t=0 and t=1."""
    return torch.arange(1, count + 1, dtype=torch.float32, device=device) / (count + 1)


def slerp(start: torch.Tensor, end: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``start`` [B, D] to ``end`` [B, D] at ``times`` [L].

    Returns [B, L, D]. The angle is measured between the directions, and the
    usual slerp weights are applied to the vectors themselves, so two
    embeddings of equal length give a path of that length. Nearly parallel
    pairs fall back to linear interpolation, where slerp's division is unstable.
    """
    a, b, t = start[:, None, :], end[:, None, :], times[None, :, None].to(start.dtype)
    cosine = nn.functional.cosine_similarity(start, end, dim=-1).clamp(-1.0, 1.0)
    theta = torch.arccos(cosine)[:, None, None]
    sin_theta = torch.sin(theta)
    parallel = sin_theta.abs() < _PARALLEL_THRESHOLD
    safe_sin = torch.where(parallel, torch.ones_like(sin_theta), sin_theta)
    weight_a = torch.where(parallel, 1 - t, torch.sin((1 - t) * theta) / safe_sin)
    weight_b = torch.where(parallel, t, torch.sin(t * theta) / safe_sin)
    return weight_a * a + weight_b * b


class SemanticMotionPredictor(nn.Module):
    """Predicts the CLIP embeddings of the frames between a start and an end embedding."""

    def __init__(self, config: PredictorConfig = PredictorConfig()) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.input_norm = nn.LayerNorm(config.embed_dim)
        self.input_proj = nn.Linear(config.embed_dim, width)
        self.role = nn.Parameter(torch.randn(3, width) * 0.02)
        self.frame_queries = nn.Parameter(torch.randn(config.frames, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=config.heads,
            dim_feedforward=round(width * config.mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.output_norm = nn.LayerNorm(width)
        self.output_proj = nn.Linear(width, config.embed_dim)
        nn.init.zeros_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self, start: torch.Tensor, end: torch.Tensor, count: int | None = None
    ) -> torch.Tensor:
        """Embeddings [B, count, D] of ``count`` frames between ``start`` and ``end`` [B, D].

        ``count`` defaults to the number of learned frame queries.
        """
        count = self.config.frames if count is None else count
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        base = slerp(start, end, frame_times(count, start.device))
        tokens = torch.cat(
            [
                self._embed(start)[:, None] + self.role[0],
                self._embed(end)[:, None] + self.role[1],
                self._embed(base) + self.queries(count) + self.role[2],
            ],
            dim=1,
        )
        hidden = self.output_norm(self.transformer(tokens)[:, 2:])
        return base + self.output_proj(hidden)

    def queries(self, count: int) -> torch.Tensor:
        """The learned frame queries resampled to ``count`` frames (identical when it matches)."""
        table = self.frame_queries
        if count == table.shape[0]:
            return table
        if table.shape[0] == 1:
            return table.expand(count, -1)
        resampled = nn.functional.interpolate(
            table.T[None], size=count, mode="linear", align_corners=True
        )
        return resampled[0].T

    def _embed(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.input_proj(self.input_norm(embeddings))


def save_predictor(
    predictor: SemanticMotionPredictor,
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write the predictor's weights and configuration to one .safetensors file, atomically.

    ``metadata`` adds free-form string entries (for example the image encoder
    it was trained with).
    """
    target = Path(path)
    tensors = {
        name: value.detach().to("cpu", torch.float32).contiguous()
        for name, value in predictor.state_dict().items()
    }
    entries = {**(metadata or {}), "format": "pt", CONFIG_METADATA_KEY: predictor.config.to_json()}
    atomic_write(target, save(tensors, metadata=entries))
    return target


def load_predictor(
    source: str | Path, device: str | torch.device = "cpu"
) -> SemanticMotionPredictor:
    """Load a predictor written by :func:`save_predictor` (file path or hub path), in eval mode."""
    path = resolve_component(str(source), "motion predictor")
    if path.is_dir():
        raise MotionPredictorError(
            f"The motion predictor {path} is a folder.",
            "Give the .safetensors file written by 'storyboard train-motion'.",
        )
    tensors, metadata = read_safetensors(path, "motion predictor")
    config_text = metadata.get(CONFIG_METADATA_KEY)
    if config_text is None:
        raise MotionPredictorError(
            f"{path.name} is a .safetensors file but not a motion predictor (it has no "
            "predictor configuration).",
            "Give a file written by 'storyboard train-motion'.",
        )
    predictor = SemanticMotionPredictor(PredictorConfig.from_json(config_text))
    try:
        predictor.load_state_dict(tensors)
    except RuntimeError as exc:
        raise MotionPredictorError(
            f"The weights in {path.name} do not fit its configuration ({exc}).",
            "The file is damaged; train or download it again.",
        ) from None
    return predictor.to(device).eval()


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the metadata of a .safetensors file, with a clear error if unreadable."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise MotionPredictorError(
            f"The {what} {path.name} is not a readable .safetensors file ({exc}).",
            "The file is damaged or incomplete, or is another format renamed.",
        ) from None
    return tensors, metadata
