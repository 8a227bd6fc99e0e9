"""The toy model's parts: an SD 1.5 pipeline small enough to train on a CPU.

Same layout as Stable Diffusion 1.5 (AutoencoderKL, UNet2DConditionModel with
self- and cross-attention in its up blocks, CLIPTextModel, CLIPTokenizer, a
scheduler), so the engine renders it like any SD 1.5 folder and Consistent
Self-Attention finds its ``up_blocks`` layers. The VAE downsamples 4x (64 px
pictures are 16x16x4 latents) instead of SD's 8x, and every width is small.
Group norms have several channels per group: with one channel a group norm is
an instance norm, which throws away each picture's mean colour, and a world of
flat colours then cannot be reconstructed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from storyboard_app.engine.toyworld.tokenizer import write_tokenizer

TEXT_WIDTH = 128
PROMPT_TOKENS = 77
SCHEDULER_CONFIG = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
}


def make_vae() -> AutoencoderKL:
    """64x64 RGB <-> 16x16x4: two downsamplings."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )


def make_unet(attention_levels: int = 2) -> UNet2DConditionModel:
    """Self- and cross-attention at the coarsest ``attention_levels`` of the three levels.

    The default, 2, puts it at the 8x8 and 4x4 levels, down and up (SD 1.5's
    order), small enough that one training step of 32 pictures takes about 1.5 s
    on one CPU core; 3 adds it at the 16x16 level too, where a creature spans
    several tokens, so a layer can match a creature's parts between pictures.
    """
    if attention_levels not in (1, 2, 3):
        raise ValueError("The toy UNet has 3 levels: attention at 1, 2 or 3 of them.")
    plain = 3 - attention_levels
    down = ("DownBlock2D",) * plain + ("CrossAttnDownBlock2D",) * attention_levels
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=down,
        up_block_types=tuple(block.replace("Down", "Up") for block in reversed(down)),
        block_out_channels=(32, 64, 128),
        layers_per_block=1,
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=4,
        norm_num_groups=8,
    )


def make_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """A three-layer CLIP text encoder over the world's vocabulary."""
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_WIDTH,
        intermediate_size=TEXT_WIDTH * 2,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=PROMPT_TOKENS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config)


def make_tokenizer(folder: Path) -> CLIPTokenizer:
    """The world's whole-word tokenizer, written to ``folder`` and read back."""
    write_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=PROMPT_TOKENS)


def assemble(
    vae: AutoencoderKL,
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
    tokenizer: CLIPTokenizer,
) -> StableDiffusionPipeline:
    """The parts as a StableDiffusionPipeline without a safety checker."""
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def parameter_bytes(*modules: torch.nn.Module) -> int:
    """Bytes of the modules' weights at their dtype: what the saved folder holds."""
    return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
