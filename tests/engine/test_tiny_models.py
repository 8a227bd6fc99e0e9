"""Tiny random-weight pipelines: deterministic, real-shaped, and convertible to original layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
)

from storyboard_app.engine.loading import pipeline_config_dir
from storyboard_app.engine.tiny_models import (
    TINY_IMAGE_SIZE,
    build_tiny_pipeline,
    open_clip_to_original,
    original_layout_state_dict,
    tiny_tokenizer,
    unet_to_original,
    vae_to_original,
)


def self_attention_layers(pipe, block: str) -> list[str]:
    return [
        name for name in pipe.unet.attn_processors if name.startswith(block) and "attn1" in name
    ]


def test_tiny_sdxl_renders_deterministically(tiny_sdxl_pipeline, render_tiny) -> None:
    first = render_tiny(tiny_sdxl_pipeline, seed=1)
    again = render_tiny(tiny_sdxl_pipeline, seed=1)
    other = render_tiny(tiny_sdxl_pipeline, seed=2)

    assert first.shape == (1, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE, 3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_tiny_sd15_renders_deterministically(tiny_sd15_pipeline, render_tiny) -> None:
    first = render_tiny(tiny_sd15_pipeline, seed=1)
    again = render_tiny(tiny_sd15_pipeline, seed=1)

    assert first.shape == (1, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE, 3)
    assert np.array_equal(first, again)
    assert np.isfinite(first).all()


@pytest.mark.parametrize("architecture", ["sdxl", "sd15"])
def test_same_seed_builds_same_weights_without_touching_global_rng(architecture) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)

    first = build_tiny_pipeline(architecture, seed=5)
    after_build = torch.rand(1)
    second = build_tiny_pipeline(architecture, seed=5)
    other = build_tiny_pipeline(architecture, seed=6)

    assert torch.equal(after_build, expected_next)
    weight = "conv_in.weight"
    assert torch.equal(first.unet.state_dict()[weight], second.unet.state_dict()[weight])
    assert not torch.equal(first.unet.state_dict()[weight], other.unet.state_dict()[weight])


def test_tiny_sdxl_has_self_attention_in_two_up_levels_like_sdxl(tiny_sdxl_pipeline) -> None:
    assert len(self_attention_layers(tiny_sdxl_pipeline, "up_blocks.0")) == 4
    assert len(self_attention_layers(tiny_sdxl_pipeline, "up_blocks.1")) == 2
    assert self_attention_layers(tiny_sdxl_pipeline, "up_blocks.2") == []
    assert tiny_sdxl_pipeline.vae_scale_factor == 8


def test_tiny_sd15_has_self_attention_in_the_upper_up_levels_like_sd15(tiny_sd15_pipeline) -> None:
    assert self_attention_layers(tiny_sd15_pipeline, "up_blocks.0") == []
    assert len(self_attention_layers(tiny_sd15_pipeline, "up_blocks.1")) == 2
    assert len(self_attention_layers(tiny_sd15_pipeline, "up_blocks.2")) == 2


def test_tiny_sdxl_text_encoders_differ_in_width(tiny_sdxl_pipeline) -> None:
    """diffusers tells the two encoders of a single-file SDXL checkpoint apart by width."""
    first = tiny_sdxl_pipeline.text_encoder.config.hidden_size
    second = tiny_sdxl_pipeline.text_encoder_2.config.hidden_size
    assert first != second


def test_tiny_tokenizer_handles_any_text() -> None:
    tokenizer = tiny_tokenizer()

    ids = tokenizer("Mara, 27, naïve café — 猫!", padding="max_length", max_length=77).input_ids

    assert len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.unk_token_id not in ids[1 : ids.index(tokenizer.eos_token_id)]
    assert max(ids) < len(tokenizer)


def test_original_layout_uses_the_names_diffusers_detects(tiny_sdxl_pipeline) -> None:
    keys = set(original_layout_state_dict(tiny_sdxl_pipeline))

    assert "conditioner.embedders.1.model.positional_embedding" in keys
    assert (
        "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight"
        in keys
    )
    assert "model.diffusion_model.input_blocks.0.0.weight" in keys
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in keys


@pytest.mark.parametrize("architecture", ["sdxl", "sd15"])
def test_unet_key_map_inverts_diffusers_conversion_at_full_size(architecture) -> None:
    """The map is checked on the real configs, not only on the tiny layout."""
    config = UNet2DConditionModel.load_config(pipeline_config_dir(architecture) / "unet")
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(config)
    state = unet.state_dict()

    original = unet_to_original(state, unet.config)
    round_trip = convert_ldm_unet_checkpoint(
        {f"model.diffusion_model.{key}": value for key, value in original.items()}, unet.config
    )

    assert set(round_trip) == set(state)
    assert all(round_trip[key] is state[key] for key in state)


def test_vae_key_map_inverts_diffusers_conversion_at_full_size() -> None:
    config = AutoencoderKL.load_config(pipeline_config_dir("sdxl") / "vae")
    with init_empty_weights():
        vae = AutoencoderKL.from_config(config)
    state = vae.state_dict()

    original = vae_to_original(state, len(vae.config.up_block_types))
    round_trip = convert_ldm_vae_checkpoint(
        {f"first_stage_model.{key}": value for key, value in original.items()}, vae.config
    )

    assert set(round_trip) == set(state)
    assert all(round_trip[key].shape == state[key].shape for key in state)


def test_open_clip_map_inverts_diffusers_conversion(tiny_sdxl_pipeline) -> None:
    encoder = tiny_sdxl_pipeline.text_encoder_2
    state = encoder.state_dict()
    prefix = "conditioner.embedders.1.model."

    original = open_clip_to_original(state)
    round_trip = convert_open_clip_checkpoint(
        encoder, {prefix + key: value for key, value in original.items()}, prefix=prefix
    )

    assert set(round_trip) == set(state)
    assert all(torch.equal(round_trip[key], state[key]) for key in state)
