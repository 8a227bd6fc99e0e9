"""SDXL and SD 1.5 pipelines with tiny random weights, and original-layout checkpoints of them.

Tests, the CLI's ``--model tiny`` and the frozen app's self-test need real
pipelines that run on any CPU in a fraction of a second and never download
anything. These are built from config with seeded random weights and a
tokenizer made here. Their layout follows the real models where the engine
looks at it: a VAE that downsamples 8x, self-attention (``attn1``) in two
up-block levels (SDXL: ``up_blocks.0`` with more transformer layers than
``up_blocks.1``; SD 1.5: ``up_blocks.1`` and ``up_blocks.2``), and for SDXL two
text encoders of different widths, which is how diffusers tells CLIP-L from
OpenCLIP-bigG in a single-file checkpoint.

Images from these models are noise-like; only shapes, determinism and the
code paths are meaningful.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import torch
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from storyboard_app.engine.loading import Architecture, pipeline_config_dir

TINY_IMAGE_SIZE = 64
# Model sources that name a tiny random model instead of real weights.
TINY_SOURCES: dict[str, Architecture] = {"tiny": "sdxl", "tiny-sdxl": "sdxl", "tiny-sd15": "sd15"}
TINY_TEXT_WIDTH = 32
TINY_SDXL_TEXT_WIDTH_2 = 64
TINY_TIME_EMBED_DIM = 8
MODEL_MAX_LENGTH = 77
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"

_Module = TypeVar("_Module", bound=torch.nn.Module)

# Seed offsets per component, so that changing one component's shape never
# changes the random weights of the others.
_SEED_OFFSETS: Mapping[str, int] = {"unet": 0, "vae": 1, "text_encoder": 2, "text_encoder_2": 3}


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over the 256 byte symbols, with no merges.

    Every text tokenizes (one token per byte, ``</w>`` marking word ends), so
    prompts never hit unknown tokens; the real 49,408-token vocabulary would
    dwarf the tiny text encoders.
    """
    symbols = _byte_symbols()
    vocab = {symbol: index for index, symbol in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab[BOS_TOKEN] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MODEL_MAX_LENGTH)


def _byte_symbols() -> list[str]:
    """The printable stand-ins GPT-2 style byte-level BPE uses for the 256 byte values."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    codes = {byte: byte for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in codes:
            codes[byte] = 256 + extra
            extra += 1
    return [chr(codes[byte]) for byte in range(256)]


def build_tiny_pipeline(architecture: Architecture = "sdxl", seed: int = 0) -> DiffusionPipeline:
    """A tiny random-weight text-to-image pipeline of ``architecture`` ("sdxl" or "sd15")."""
    if architecture == "sdxl":
        return build_tiny_sdxl_pipeline(seed)
    if architecture == "sd15":
        return build_tiny_sd15_pipeline(seed)
    raise ValueError(f"Unknown architecture {architecture!r}; use 'sdxl' or 'sd15'.")


def build_tiny_sdxl_pipeline(seed: int = 0) -> StableDiffusionXLPipeline:
    """A tiny SDXL pipeline: same component classes and attention layout as SDXL base."""
    tokenizer = tiny_tokenizer()
    return StableDiffusionXLPipeline(
        vae=_seeded(seed, "vae", lambda: _tiny_vae(scaling_factor=0.13025)),
        text_encoder=_seeded(seed, "text_encoder", lambda: _tiny_clip_text_model(tokenizer)),
        text_encoder_2=_seeded(seed, "text_encoder_2", lambda: _tiny_open_clip_model(tokenizer)),
        tokenizer=tokenizer,
        tokenizer_2=tiny_tokenizer(),
        unet=_seeded(seed, "unet", _tiny_sdxl_unet),
        scheduler=EulerDiscreteScheduler.from_pretrained(pipeline_config_dir("sdxl") / "scheduler"),
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )


def build_tiny_sd15_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """A tiny SD 1.5 pipeline, without safety checker like the ones the loader builds."""
    tokenizer = tiny_tokenizer()
    return StableDiffusionPipeline(
        vae=_seeded(seed, "vae", lambda: _tiny_vae(scaling_factor=0.18215)),
        text_encoder=_seeded(seed, "text_encoder", lambda: _tiny_clip_text_model(tokenizer)),
        tokenizer=tokenizer,
        unet=_seeded(seed, "unet", _tiny_sd15_unet),
        scheduler=PNDMScheduler.from_pretrained(pipeline_config_dir("sd15") / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_pipeline(
    folder: str | Path, architecture: Architecture = "sdxl", seed: int = 0
) -> Path:
    """Build a tiny pipeline and save it as a diffusers folder (safetensors weights)."""
    target = Path(folder)
    build_tiny_pipeline(architecture, seed).save_pretrained(target, safe_serialization=True)
    return target


def tiny_model_folder(architecture: Architecture = "sdxl", root: Path | None = None) -> Path:
    """A saved tiny pipeline in the user's cache, built on first use.

    Lets ``--model tiny`` go through the real folder-loading code. The folder is
    written under a temporary name and renamed, so a half-written model is never
    loaded. ``STORYBOARD_CACHE_DIR`` moves the cache (tests point it at a temp dir).
    """
    root = root or user_cache_root()
    target = root / "tiny-models" / architecture
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{architecture}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    save_tiny_pipeline(partial, architecture)
    try:
        os.replace(partial, target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not (target / "model_index.json").is_file():
            raise
    return target


def user_cache_root() -> Path:
    override = os.environ.get("STORYBOARD_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("storyboard"))


def write_single_file_checkpoint(pipe: DiffusionPipeline, path: str | Path) -> Path:
    """Save ``pipe`` as one .safetensors file in the original (ldm/sgm) key layout.

    This is the layout of checkpoints shared on model sites, so loading it
    back with ``from_single_file`` exercises the same conversion real files go
    through.
    """
    target = Path(path)
    tensors = {
        key: value.detach().contiguous() for key, value in original_layout_state_dict(pipe).items()
    }
    save_file(tensors, str(target), metadata={"format": "pt"})
    return target


def original_layout_state_dict(pipe: DiffusionPipeline) -> dict[str, torch.Tensor]:
    """All weights of an SDXL or SD 1.5 pipeline, named as in the original checkpoints."""
    unet_config = dict(pipe.unet.config)
    state: dict[str, torch.Tensor] = {}
    state |= _prefixed(
        "model.diffusion_model.", unet_to_original(pipe.unet.state_dict(), unet_config)
    )
    state |= _prefixed(
        "first_stage_model.",
        vae_to_original(pipe.vae.state_dict(), len(pipe.vae.config.up_block_types)),
    )
    clip_keys = clip_to_original(pipe.text_encoder.state_dict())
    if isinstance(pipe, StableDiffusionXLPipeline):
        state |= _prefixed("conditioner.embedders.0.transformer.", clip_keys)
        open_clip = open_clip_to_original(pipe.text_encoder_2.state_dict())
        state |= _prefixed("conditioner.embedders.1.model.", open_clip)
    else:
        state |= _prefixed("cond_stage_model.transformer.", clip_keys)
    return state


_UNET_TOP_LEVEL: Mapping[str, str] = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_RESNET_NAMES: Mapping[str, str] = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}


def unet_to_original(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Rename a diffusers UNet state dict to the ldm layout (input/middle/output blocks)."""
    return {unet_key_to_original(key, config): value for key, value in state.items()}


def unet_key_to_original(key: str, config: Mapping[str, Any]) -> str:
    """The ldm name of one diffusers UNet weight (inverse of diffusers' single-file conversion).

    In the ldm layout each block level holds ``layers_per_block`` entries plus
    one for its down- or upsampler, numbered across levels; entry ``.0`` is
    the resnet, ``.1`` the attention (or an upsampler where there is none).
    """
    module, _, leaf = key.rpartition(".")
    if module in _UNET_TOP_LEVEL:
        return f"{_UNET_TOP_LEVEL[module]}.{leaf}"
    parts = key.split(".")
    per_level = int(config["layers_per_block"]) + 1
    if parts[0] == "mid_block":
        return _mid_block_key(parts[1], int(parts[2]), parts[3:])
    level, kind, index, rest = int(parts[1]), parts[2], int(parts[3]), parts[4:]
    if parts[0] == "down_blocks":
        return _down_block_key(level, kind, index, rest, per_level)
    has_attention = "CrossAttn" in config["up_block_types"][level]
    return _up_block_key(level, kind, index, rest, per_level, has_attention)


def _down_block_key(level: int, kind: str, index: int, rest: list[str], per_level: int) -> str:
    if kind == "downsamplers":
        return f"input_blocks.{(level + 1) * per_level}.0.op.{'.'.join(rest[1:])}"
    entry = 1 + level * per_level + index
    if kind == "resnets":
        return f"input_blocks.{entry}.0.{_resnet_rest(rest)}"
    return f"input_blocks.{entry}.1.{'.'.join(rest)}"


def _mid_block_key(kind: str, index: int, rest: list[str]) -> str:
    if kind == "resnets":
        return f"middle_block.{2 * index}.{_resnet_rest(rest)}"
    return f"middle_block.1.{'.'.join(rest)}"


def _up_block_key(
    level: int, kind: str, index: int, rest: list[str], per_level: int, has_attention: bool
) -> str:
    if kind == "upsamplers":
        entry = level * per_level + per_level - 1
        return f"output_blocks.{entry}.{2 if has_attention else 1}.{'.'.join(rest)}"
    entry = level * per_level + index
    if kind == "resnets":
        return f"output_blocks.{entry}.0.{_resnet_rest(rest)}"
    return f"output_blocks.{entry}.1.{'.'.join(rest)}"


def _resnet_rest(rest: list[str]) -> str:
    return ".".join([_RESNET_NAMES.get(rest[0], rest[0]), *rest[1:]])


_VAE_ATTENTION_NAMES: Mapping[str, str] = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def vae_to_original(
    state: Mapping[str, torch.Tensor], num_up_blocks: int
) -> dict[str, torch.Tensor]:
    """Rename a diffusers VAE state dict to the ldm layout.

    The ldm VAE numbers decoder levels from the lowest resolution up, the
    reverse of diffusers, and stores its mid-block attention projections as
    1x1 convolutions.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        original = vae_key_to_original(key, num_up_blocks)
        is_attention_weight = (
            ".mid.attn_1." in original and original.endswith("weight") and value.ndim == 2
        )
        converted[original] = value[:, :, None, None] if is_attention_weight else value
    return converted


def vae_key_to_original(key: str, num_up_blocks: int) -> str:
    """The ldm name of one diffusers VAE weight."""
    side, _, rest = key.partition(".")
    if side not in ("encoder", "decoder"):
        return key
    rest = rest.replace("conv_norm_out.", "norm_out.")
    parts = rest.split(".")
    if parts[0] == "mid_block":
        return f"{side}.{_vae_mid_key(parts)}"
    if parts[0] in ("down_blocks", "up_blocks"):
        return f"{side}.{_vae_level_key(parts, num_up_blocks)}"
    return f"{side}.{rest}"


def _vae_mid_key(parts: list[str]) -> str:
    if parts[1] == "resnets":
        tail = ".".join(parts[3:]).replace("conv_shortcut", "nin_shortcut")
        return f"mid.block_{int(parts[2]) + 1}.{tail}"
    tail = ".".join(parts[3:])
    for diffusers_name, ldm_name in _VAE_ATTENTION_NAMES.items():
        if tail.startswith(diffusers_name + "."):
            tail = ldm_name + tail[len(diffusers_name) :]
            break
    return f"mid.attn_1.{tail}"


def _vae_level_key(parts: list[str], num_up_blocks: int) -> str:
    level = int(parts[1])
    name = "down" if parts[0] == "down_blocks" else "up"
    if name == "up":
        level = num_up_blocks - 1 - level
    if parts[2] == "resnets":
        tail = ".".join(parts[4:]).replace("conv_shortcut", "nin_shortcut")
        return f"{name}.{level}.block.{parts[3]}.{tail}"
    sampler = "downsample" if name == "down" else "upsample"
    return f"{name}.{level}.{sampler}.{'.'.join(parts[4:])}"


def clip_to_original(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Name a transformers CLIP text model's weights as in original checkpoints.

    Originals wrap the model in ``text_model.``; transformers 5 dropped that
    prefix from ``CLIPTextModel``.
    """
    return {
        (key if key.startswith("text_model.") else f"text_model.{key}"): value
        for key, value in state.items()
    }


def open_clip_to_original(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a ``CLIPTextModelWithProjection`` state dict to OpenCLIP's layout (SDXL's bigG).

    OpenCLIP fuses the query, key and value projections into one
    ``in_proj`` matrix and stores the text projection transposed.
    """
    prefix = "text_model."
    converted = {
        "token_embedding.weight": state[f"{prefix}embeddings.token_embedding.weight"],
        "positional_embedding": state[f"{prefix}embeddings.position_embedding.weight"],
        "ln_final.weight": state[f"{prefix}final_layer_norm.weight"],
        "ln_final.bias": state[f"{prefix}final_layer_norm.bias"],
        "text_projection": state["text_projection.weight"].T,
    }
    layer_count = len(
        {key.split(".")[3] for key in state if key.startswith(f"{prefix}encoder.layers.")}
    )
    for layer in range(layer_count):
        converted |= _open_clip_layer(
            state, f"{prefix}encoder.layers.{layer}.", f"transformer.resblocks.{layer}."
        )
    return converted


def _open_clip_layer(
    state: Mapping[str, torch.Tensor], source: str, target: str
) -> dict[str, torch.Tensor]:
    attention = f"{source}self_attn."
    layer: dict[str, torch.Tensor] = {}
    for leaf in ("weight", "bias"):
        projections = [state[f"{attention}{name}_proj.{leaf}"] for name in ("q", "k", "v")]
        layer[f"{target}attn.in_proj_{leaf}"] = torch.cat(projections, dim=0)
        layer[f"{target}attn.out_proj.{leaf}"] = state[f"{attention}out_proj.{leaf}"]
        layer[f"{target}ln_1.{leaf}"] = state[f"{source}layer_norm1.{leaf}"]
        layer[f"{target}ln_2.{leaf}"] = state[f"{source}layer_norm2.{leaf}"]
        layer[f"{target}mlp.c_fc.{leaf}"] = state[f"{source}mlp.fc1.{leaf}"]
        layer[f"{target}mlp.c_proj.{leaf}"] = state[f"{source}mlp.fc2.{leaf}"]
    return layer


def _prefixed(prefix: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + key: value for key, value in state.items()}


def _seeded(seed: int, component: str, factory: Callable[[], _Module]) -> _Module:
    """Build one component with its own seed, leaving the caller's random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + _SEED_OFFSETS[component])
        return factory().eval()


def _tiny_clip_config(tokenizer: CLIPTokenizer, width: int, hidden_act: str) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=37,
        projection_dim=width,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MODEL_MAX_LENGTH,
        hidden_act=hidden_act,
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _tiny_clip_text_model(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    return CLIPTextModel(_tiny_clip_config(tokenizer, TINY_TEXT_WIDTH, "quick_gelu"))


def _tiny_open_clip_model(tokenizer: CLIPTokenizer) -> CLIPTextModelWithProjection:
    """SDXL's second text encoder, wider than the first (as bigG is wider than CLIP-L)."""
    config = _tiny_clip_config(tokenizer, TINY_SDXL_TEXT_WIDTH_2, "gelu")
    return CLIPTextModelWithProjection(config)


def _tiny_vae(scaling_factor: float) -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=TINY_IMAGE_SIZE,
        scaling_factor=scaling_factor,
    )


def _tiny_sdxl_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=TINY_IMAGE_SIZE // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 1, 2),
        attention_head_dim=(2, 4, 4),
        use_linear_projection=True,
        cross_attention_dim=TINY_TEXT_WIDTH + TINY_SDXL_TEXT_WIDTH_2,
        addition_embed_type="text_time",
        addition_time_embed_dim=TINY_TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=6 * TINY_TIME_EMBED_DIM + TINY_SDXL_TEXT_WIDTH_2,
        norm_num_groups=8,
    )


def _tiny_sd15_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=TINY_IMAGE_SIZE // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=2,
        cross_attention_dim=TINY_TEXT_WIDTH,
        norm_num_groups=8,
    )
