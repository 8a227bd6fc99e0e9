"""CLIP image embeddings of panels and video frames: the space IP-Adapter reads.

The predictor works on the ``image_embeds`` of a transformers
``CLIPVisionModelWithProjection``, the output IP-Adapter projects into the
UNet. Preprocessing is done here with Pillow and numpy (resize the short
side with bicubic filtering, centre crop, normalise) because transformers'
default image processor now needs torchvision, which the app does not ship;
the sizes and statistics are read from the model folder's
``preprocessor_config.json`` when it has one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from storyboard_app.engine.devices import choose_device, choose_dtype
from storyboard_app.engine.errors import ModelLoadError
from storyboard_app.engine.motion.sources import require_safetensors_folder, resolve_component

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_ENCODER_SOURCE = "h94/IP-Adapter/models/image_encoder"
TINY_ENCODER_SOURCE = "tiny"
PREPROCESSOR_FILE = "preprocessor_config.json"
ImageInput = np.ndarray | Image.Image


@dataclass(frozen=True)
class ClipPreprocessing:
    """CLIP's image preprocessing: short side to ``size``, centre crop, normalise."""

    size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    @classmethod
    def for_folder(cls, folder: Path | None, image_size: int) -> ClipPreprocessing:
        """Read a model folder's preprocessor config; fall back to CLIP's values at its size."""
        config_path = folder / PREPROCESSOR_FILE if folder is not None else None
        if config_path is None or not config_path.is_file():
            return cls(size=image_size)
        config = json.loads(config_path.read_text(encoding="utf-8"))
        return cls(
            size=_crop_size(config, image_size),
            mean=tuple(config.get("image_mean", CLIP_MEAN)),
            std=tuple(config.get("image_std", CLIP_STD)),
        )

    def __call__(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """A [N, 3, size, size] float tensor from RGB images (uint8 arrays or Pillow images)."""
        batch = np.stack([self._one(image) for image in images])
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        normalised = (batch.astype(np.float32) / 255.0 - mean) / std
        return torch.from_numpy(normalised).permute(0, 3, 1, 2).contiguous()

    def _one(self, image: ImageInput) -> np.ndarray:
        picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
        picture = picture.convert("RGB")
        scale = self.size / min(picture.size)
        resized = picture.resize(
            (
                max(self.size, round(picture.width * scale)),
                max(self.size, round(picture.height * scale)),
            ),
            Image.Resampling.BICUBIC,
        )
        left = (resized.width - self.size) // 2
        top = (resized.height - self.size) // 2
        return np.asarray(resized.crop((left, top, left + self.size, top + self.size)))


class ClipImageEncoder:
    """A CLIP vision model with projection, with its preprocessing, on one device."""

    def __init__(
        self,
        model: CLIPVisionModelWithProjection,
        preprocessing: ClipPreprocessing,
        source: str = "",
    ) -> None:
        self.model = model.eval()
        self.preprocessing = preprocessing
        self.source = source

    @property
    def embed_dim(self) -> int:
        """Width of the image embeddings (the projection dimension)."""
        return int(self.model.config.projection_dim)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> ClipImageEncoder:
        """Move the model (in place) and return the encoder."""
        self.model.to(device=device, dtype=dtype)
        return self

    @torch.no_grad()
    def encode(self, images: Sequence[ImageInput], batch_size: int = 32) -> torch.Tensor:
        """Image embeddings [N, D] as float32 on the CPU, computed ``batch_size`` at a time.

        Gradients are off but this is not inference mode: training uses the
        embeddings as inputs of a graph, which inference tensors cannot be.
        """
        chunks = []
        for first in range(0, len(images), batch_size):
            pixels = self.preprocessing(images[first : first + batch_size])
            output = self.model(pixel_values=pixels.to(self.device, self.dtype))
            chunks.append(output.image_embeds.float().cpu())
        if not chunks:
            return torch.zeros(0, self.embed_dim)
        return torch.cat(chunks)


def load_image_encoder(
    source: str = DEFAULT_ENCODER_SOURCE,
    *,
    device: str | None = None,
    dtype: str | None = None,
) -> ClipImageEncoder:
    """Load a CLIP image encoder from a folder or cached hub path; ``tiny`` builds a random one."""
    device_name = choose_device(device)
    torch_dtype = choose_dtype(device_name, dtype)
    if source == TINY_ENCODER_SOURCE:
        return build_tiny_image_encoder().to(device_name, torch_dtype)
    folder = resolve_component(source, "image encoder")
    require_safetensors_folder(folder, "image encoder")
    try:
        model = CLIPVisionModelWithProjection.from_pretrained(
            str(folder), dtype=torch_dtype, use_safetensors=True, local_files_only=True
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(
            f"The image encoder in {folder} could not be loaded: {exc}",
            "Give a CLIP vision model folder (config.json and model.safetensors), such as "
            "h94/IP-Adapter/models/image_encoder.",
        ) from exc
    preprocessing = ClipPreprocessing.for_folder(folder, int(model.config.image_size))
    return ClipImageEncoder(model.to(device_name), preprocessing, source=source)


def tiny_clip_vision_config(projection_dim: int = 16) -> CLIPVisionConfig:
    """A CLIP vision config small enough to run in milliseconds on any CPU (tests, ``tiny``).

    At the default initial weight scale a random CLIP maps every image to
    nearly the same embedding (cosine > 0.97 between any two frames); three
    times that scale makes the embedding follow the picture, so motion is
    visible in it.
    """
    return CLIPVisionConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=projection_dim,
        hidden_act="quick_gelu",
        initializer_factor=3.0,
    )


def build_tiny_image_encoder(seed: int = 0, projection_dim: int = 16) -> ClipImageEncoder:
    """A random-weight tiny CLIP image encoder, the same for the same seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPVisionModelWithProjection(tiny_clip_vision_config(projection_dim))
    return ClipImageEncoder(model, ClipPreprocessing(size=32), source=TINY_ENCODER_SOURCE)


def _crop_size(config: dict[str, Any], fallback: int) -> int:
    crop = config.get("crop_size", fallback)
    if isinstance(crop, dict):
        return int(crop.get("height", crop.get("shortest_edge", fallback)))
    return int(crop)
