"""CLIP image encoding: preprocessing without torchvision, loading from folders, pickles refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from storyboard_app.engine.errors import NotAPipelineError, UnsafeCheckpointError
from storyboard_app.engine.motion.encoder import (
    ClipImageEncoder,
    ClipPreprocessing,
    load_image_encoder,
)


def test_preprocessing_resizes_crops_and_normalises() -> None:
    wide = np.zeros((48, 96, 3), np.uint8)
    wide[:, 36:60] = 255
    pixels = ClipPreprocessing(size=32)([wide])
    assert pixels.shape == (1, 3, 32, 32)
    white = (1 - ClipPreprocessing().mean[0]) / ClipPreprocessing().std[0]
    assert pixels[0, 0, 16, 16] == pytest.approx(white, abs=1e-4)
    assert pixels[0, 0, 16, 0] < 0


def test_encoding_is_deterministic_and_batch_independent(tiny_encoder: ClipImageEncoder) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 60, 3), dtype=np.uint8) for _ in range(5)]
    together = tiny_encoder.encode(images)
    one_by_one = torch.cat([tiny_encoder.encode([image]) for image in images])
    assert together.shape == (5, tiny_encoder.embed_dim)
    assert torch.allclose(together, one_by_one, atol=1e-5)
    assert not torch.allclose(together[0], together[1])


def test_loads_from_a_local_folder(tiny_encoder: ClipImageEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "image_encoder"
    tiny_encoder.model.save_pretrained(folder, safe_serialization=True)
    preprocessor = {"crop_size": {"height": 32, "width": 32}, "image_mean": [0.5] * 3}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    loaded = load_image_encoder(str(folder), device="cpu")
    assert loaded.preprocessing.size == 32 and loaded.preprocessing.mean == (0.5, 0.5, 0.5)
    image = np.full((32, 32, 3), 128, np.uint8)
    loaded_embedding = loaded.encode([image])
    reference = ClipImageEncoder(tiny_encoder.model, loaded.preprocessing).encode([image])
    assert torch.allclose(loaded_embedding, reference, atol=1e-6)


def test_a_folder_of_pickles_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "image_encoder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"never opened")
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        load_image_encoder(str(folder), device="cpu")
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(NotAPipelineError, match="no weights"):
        load_image_encoder(str(folder), device="cpu")
