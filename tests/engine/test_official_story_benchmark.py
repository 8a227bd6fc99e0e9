"""The whole-story benchmarks' reproduction of the official low-VRAM processor
computes the same panels as ours (batched windows and lockstep calls): layer by layer,
and through a small UNet of SDXL's layout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention

ROOT = Path(__file__).resolve().parents[2]


SIZE = 64


@pytest.fixture(scope="module")
def benchmarks() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import official_story
        import official_story_unet

        yield official_story, official_story_unet
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def story(benchmarks: tuple[ModuleType, ModuleType]) -> ModuleType:
    return benchmarks[0]


@pytest.fixture(scope="module")
def bench(benchmarks: tuple[ModuleType, ModuleType]) -> ModuleType:
    return benchmarks[1]


@pytest.mark.parametrize("layers", [1, 3], ids=["one-layer-pass", "three-layer-pass"])
@pytest.mark.parametrize("story_index", [0, 1], ids=["one-character", "two-characters"])
def test_official_reproduction_and_ours_render_the_same_panels(
    story: ModuleType, story_index: int, layers: int
) -> None:
    """Every panel, every layer of a pass (each layer samples its own tokens)."""
    torch.set_num_threads(1)
    level = story.Level(tokens=64, channels=32, heads=2, layers=layers)
    torch.manual_seed(0)
    attn = Attention(query_dim=32, heads=2, dim_head=16).eval()
    inputs = story.story_inputs(level, story.STORIES[story_index], seed=3, layers=layers)
    with torch.inference_mode():
        official = story.render_official(attn, inputs)
        assert len(official) == len(inputs.panels) * layers
        for render in (story.render_ours, story.render_lockstep):
            ours = render(attn, inputs)
            assert ours.keys() == official.keys()
            for key, theirs in official.items():
                torch.testing.assert_close(ours[key], theirs)
        if layers > 1:  # the layers' tokens differ, so their outputs do
            assert not torch.allclose(official[0, 0], official[0, 1])
        assert story.check_agreement(attn, inputs) < 1e-5


def test_ours_does_fewer_multiply_adds_by_the_projections_it_shares(story: ModuleType) -> None:
    level = story.LEVELS[0]
    one = story.STORIES[0]
    official, ours = story.story_macs(level, one, True), story.story_macs(level, one, False)
    n, k, c = story.IDENTITY_IMAGES, level.sampled, level.channels
    writes = n * 2 * (n - 1) * k * c * c * 2  # the others' sampled tokens, per identity image
    reads = (len(one.casts) - 2) * 2 * n * k * c * c * 2  # 8 panels project, 2 windows do
    assert official - ours == writes + reads


def small_sdxl_config() -> dict:
    """SDXL's block layout at widths a CPU runs in milliseconds."""
    return {
        "in_channels": 4,
        "out_channels": 4,
        "sample_size": SIZE // 8,
        "block_out_channels": (32, 64, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "transformer_layers_per_block": (1, 1, 2),
        "attention_head_dim": (2, 4, 4),
        "use_linear_projection": True,
        "cross_attention_dim": 32,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 16 + 6 * 8,
        "norm_num_groups": 16,
    }


@pytest.mark.parametrize("story_index", [0, 1], ids=["one-character", "two-characters"])
def test_official_and_ours_predict_the_same_noise_for_every_panel(
    bench: ModuleType, story_index: int
) -> None:
    torch.set_num_threads(1)
    config = small_sdxl_config()
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config).eval()
    where = bench.official_story.CPU_ONE_THREAD
    runner = bench.Runner(unet, SIZE, where)
    assert len(runner.layers) == 6  # 2 + 2 transformer layers, then 1 + 1
    inputs = bench.story_inputs(config, SIZE, bench.STORIES[story_index], where)
    with torch.inference_mode():
        official = runner.official(inputs)
        plain = runner.plain(inputs)
        for way in (runner.ours, runner.lockstep):
            for theirs, ours in zip(official, way(inputs), strict=True):
                torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
        assert bench.check_agreement(runner, inputs) < 1e-5
    # consistency changed the panels, so the comparison compares something
    assert bench.relative_error(plain, official) > 1e-3
    # every way restores the UNet's own processors
    assert all(type(p).__name__ == "AttnProcessor2_0" for p in unet.attn_processors.values())
