"""The Semantic Motion Predictor: slerp at initialisation, after save/load, and its file format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from storyboard_app.engine.errors import ModelNotFoundError, UnsafeCheckpointError
from storyboard_app.engine.motion.errors import MotionPredictorError
from storyboard_app.engine.motion.predictor import (
    PredictorConfig,
    SemanticMotionPredictor,
    frame_times,
    load_predictor,
    save_predictor,
    slerp,
)

CONFIG = PredictorConfig(embed_dim=16, width=32, layers=2, heads=4, frames=6)


@pytest.fixture
def keys() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(3, 16, generator=generator) * 5, torch.randn(3, 16, generator=generator)


def test_untrained_predictor_returns_the_slerp_exactly(keys: tuple[torch.Tensor, ...]) -> None:
    start, end = keys
    predictor = SemanticMotionPredictor(CONFIG).eval()
    with torch.no_grad():
        for count in (6, 3, 10, 1):
            assert torch.equal(predictor(start, end, count), slerp(start, end, frame_times(count)))


def test_slerp_follows_the_great_circle() -> None:
    start, end = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    path = slerp(start, end, torch.tensor([0.0, 0.5, 1.0]))[0]
    assert torch.allclose(path[0], start[0]) and torch.allclose(path[2], end[0])
    assert torch.allclose(path[1], torch.tensor([2**0.5, 2**0.5]))
    assert torch.allclose(path.norm(dim=-1), torch.full((3,), 2.0))


def test_slerp_of_parallel_embeddings_is_linear() -> None:
    start = torch.tensor([[1.0, 1.0]])
    path = slerp(start, 3 * start, torch.tensor([0.5]))
    assert torch.allclose(path, 2 * start[:, None]) and torch.isfinite(path).all()


def test_save_and_load_keep_the_slerp_and_trained_weights(
    tmp_path: Path, keys: tuple[torch.Tensor, ...]
) -> None:
    start, end = keys
    untrained = SemanticMotionPredictor(CONFIG)
    loaded = load_predictor(save_predictor(untrained, tmp_path / "untrained.safetensors"))
    with torch.no_grad():
        assert torch.equal(loaded(start, end), slerp(start, end, frame_times(CONFIG.frames)))
    assert loaded.config == CONFIG and not loaded.training

    trained = SemanticMotionPredictor(CONFIG)
    with torch.no_grad():
        trained.output_proj.weight.normal_()
    reloaded = load_predictor(save_predictor(trained, tmp_path / "trained.safetensors"))
    with torch.no_grad():
        expected = trained.eval()(start, end, 4)
        assert torch.equal(reloaded(start, end, 4), expected)
        assert not torch.allclose(expected, slerp(start, end, frame_times(4)))


def test_learned_queries_are_resampled_for_other_frame_counts() -> None:
    predictor = SemanticMotionPredictor(CONFIG)
    assert predictor.queries(6) is predictor.frame_queries
    resampled = predictor.queries(11)
    assert resampled.shape == (11, 32)
    assert torch.allclose(resampled[0], predictor.frame_queries[0])
    assert torch.allclose(resampled[-1], predictor.frame_queries[-1])


def test_loading_refuses_pickles_and_foreign_files(tmp_path: Path) -> None:
    pickle = tmp_path / "motion.pt"
    pickle.write_bytes(b"not opened")
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        load_predictor(pickle)
    foreign = tmp_path / "lora.safetensors"
    save_file({"weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(MotionPredictorError, match="not a motion predictor"):
        load_predictor(foreign)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00" * 16)
    with pytest.raises(MotionPredictorError, match="not a readable"):
        load_predictor(damaged)
    with pytest.raises(ModelNotFoundError):
        load_predictor(tmp_path / "missing.safetensors")


def test_config_is_checked() -> None:
    with pytest.raises(MotionPredictorError, match="divisible"):
        PredictorConfig(width=30, heads=4)
