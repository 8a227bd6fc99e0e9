"""The whole-UNet story benchmark's official reproduction and ours predict the same
noise for every panel, through a small UNet of SDXL's layout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from diffusers import UNet2DConditionModel

ROOT = Path(__file__).resolve().parents[2]
SIZE = 64


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import official_story_unet

        yield official_story_unet
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


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
    assert unet.attn_processors.keys() == runner.unet.attn_processors.keys()
    assert all(type(p).__name__ == "AttnProcessor2_0" for p in unet.attn_processors.values())
