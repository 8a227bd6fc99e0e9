"""CLIP and DINOv2 embeddings from local folders, for consistency and prompt metrics.

Weights come only from a folder on disk (``local_files_only``): an evaluation
never downloads. torchmetrics' CLIPScore breaks with transformers 5 (its
``get_image_features`` returns an output object), so this small wrapper does
what the metrics need: unit-length embeddings of pictures and of prompts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from transformers import (
    AutoImageProcessor,
    AutoModel,
    AutoTokenizer,
    CLIPImageProcessor,
    CLIPModel,
)

from storyboard_app.engine.errors import ModelNotFoundError

CLIP_SCORE_WEIGHT = 2.5
"""CLIPScore's scale (Hessel et al. 2021): 2.5 x cosine, the scale published CLIP-T uses."""


def _check_folder(path: Path, what: str, example: str) -> Path:
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"The {what} folder {path} has no config.json.",
            f"Give a local transformers {what} folder, for example a downloaded {example}.",
        )
    return path


def _unit(features: object) -> torch.Tensor:
    tensor = features if isinstance(features, torch.Tensor) else features.pooler_output
    return torch.nn.functional.normalize(tensor.float(), dim=-1)


class ClipEmbedder:
    """A CLIP model, its tokenizer and image processor, read from one local folder."""

    def __init__(self, folder: Path) -> None:
        folder = _check_folder(Path(folder), "CLIP", "openai/clip-vit-large-patch14")
        self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)

    @torch.inference_mode()
    def images(self, pictures: Sequence[Image.Image]) -> torch.Tensor:
        pixels = self.processor(images=list(pictures), return_tensors="pt").pixel_values
        return _unit(self.model.get_image_features(pixel_values=pixels))

    @torch.inference_mode()
    def texts(self, prompts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(prompts), padding=True, truncation=True, max_length=77, return_tensors="pt"
        )
        return _unit(self.model.get_text_features(**tokens))


class DinoEmbedder:
    """A DINOv2 model (its class token) and image processor from one local folder."""

    def __init__(self, folder: Path) -> None:
        folder = _check_folder(Path(folder), "DINOv2", "facebook/dinov2-base")
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)

    @torch.inference_mode()
    def images(self, pictures: Sequence[Image.Image]) -> torch.Tensor:
        pixels = self.processor(images=list(pictures), return_tensors="pt").pixel_values
        return _unit(self.model(pixel_values=pixels))


def clip_t(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> list[float]:
    """CLIPScore of each picture against its own prompt: 2.5 x max(cosine, 0)."""
    cosines = (image_embeddings * text_embeddings).sum(dim=-1)
    return (CLIP_SCORE_WEIGHT * cosines.clamp(min=0)).tolist()


def mean_pairwise_cosine(embeddings: torch.Tensor) -> float | None:
    """Mean cosine between every pair of frames of one set (None for a single frame)."""
    pairs = list(itertools.combinations(range(len(embeddings)), 2))
    if not pairs:
        return None
    return sum(float(embeddings[a] @ embeddings[b]) for a, b in pairs) / len(pairs)
