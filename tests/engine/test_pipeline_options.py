"""FreeU and per-image VAE decoding: set for one render, put back after."""

from __future__ import annotations

import pytest
from diffusers import DiffusionPipeline

from storyboard_app.engine.pipeline_options import (
    FREEU_FACTORS,
    TILED_DECODE_ABOVE,
    decode_per_image,
    freeu,
)


@pytest.mark.parametrize(("architecture", "b1", "b2"), [("sdxl", 1.3, 1.4), ("sd15", 1.5, 1.6)])
def test_freeu_uses_the_published_factors_and_is_off_after(
    tiny_sdxl_pipeline: DiffusionPipeline, architecture: str, b1: float, b2: float
) -> None:
    block = tiny_sdxl_pipeline.unet.up_blocks[0]
    with freeu(tiny_sdxl_pipeline, architecture, enabled=True):
        assert (block.b1, block.b2, block.s1, block.s2) == (b1, b2, 0.9, 0.2)
    assert block.b1 is None and block.s2 is None
    with pytest.raises(RuntimeError), freeu(tiny_sdxl_pipeline, architecture, enabled=True):
        raise RuntimeError("a failed render")
    assert block.b1 is None
    assert set(FREEU_FACTORS) == {"sdxl", "sd15"}


def test_freeu_off_clears_a_leftover_setting(tiny_sdxl_pipeline: DiffusionPipeline) -> None:
    tiny_sdxl_pipeline.enable_freeu(s1=0.6, s2=0.4, b1=1.1, b2=1.2)
    with freeu(tiny_sdxl_pipeline, "sdxl", enabled=False):
        assert tiny_sdxl_pipeline.unet.up_blocks[0].b1 is None


@pytest.mark.parametrize(("side", "tiled"), [(1024, False), (1536, False), (1544, True)])
def test_decode_one_image_at_a_time_tiled_above_1536(
    tiny_sdxl_pipeline: DiffusionPipeline, side: int, tiled: bool
) -> None:
    vae = tiny_sdxl_pipeline.vae
    vae.disable_slicing()
    vae.disable_tiling()
    with decode_per_image(tiny_sdxl_pipeline, 1024, side):
        assert vae.use_slicing
        assert vae.use_tiling is tiled
    assert not vae.use_slicing and not vae.use_tiling
    assert TILED_DECODE_ABOVE == 1536


def test_decode_keeps_tiling_a_low_vram_preset_turned_on(
    tiny_sdxl_pipeline: DiffusionPipeline,
) -> None:
    vae = tiny_sdxl_pipeline.vae
    vae.enable_tiling()
    try:
        with decode_per_image(tiny_sdxl_pipeline, 64, 64):
            assert vae.use_tiling
        assert vae.use_tiling
    finally:
        vae.disable_tiling()
