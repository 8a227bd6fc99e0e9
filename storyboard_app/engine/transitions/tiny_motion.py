"""A generated-transition model with tiny random weights, built in memory in about a second.

Both families: SD 1.5 (SparseCtrl keyframes) and SDXL (AnimateDiff SDXL, ends
held by the panels' latents).

Tests and ``--model tiny`` need the whole AnimateDiff path (motion adapter,
SparseCtrl, IP-Adapter, CLIP encoder, predictor) without any download. The
parts follow the tiny SD 1.5 UNet's layout (block widths 32/64/64, one layer
per block), and the IP-Adapter state dict is made here in the layout of the
published files, so loading goes through diffusers' own IP-Adapter loader.
Frames from it are noise-like; only shapes, determinism and code paths mean
anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from diffusers import MotionAdapter, SparseControlNetModel, UNet2DConditionModel, UNetMotionModel

from storyboard_app.engine.motion.encoder import build_tiny_image_encoder
from storyboard_app.engine.motion.predictor import PredictorConfig, SemanticMotionPredictor
from storyboard_app.engine.tiny_models import build_tiny_sd15_pipeline, build_tiny_sdxl_pipeline
from storyboard_app.engine.transitions.motion_model import (
    TINY_MOTION_SOURCE,
    UNTRAINED_PREDICTOR,
    MotionModel,
    MotionSources,
    assemble_motion_model,
    assemble_sdxl_motion_model,
)

TINY_EMBED_DIM = 16
IP_ADAPTER_TOKENS = 4  # a base IP-Adapter turns one image embedding into four tokens
_Module = TypeVar("_Module", bound=torch.nn.Module)
_Built = TypeVar("_Built")


def build_tiny_motion_model(seed: int = 0, architecture: str = "sd15") -> MotionModel:
    """The whole motion model with random weights that depend only on ``seed``.

    ``architecture="sdxl"`` builds AnimateDiff SDXL on the tiny SDXL pipeline
    (no SparseCtrl; the ends are held by the panels' latents).
    """
    if architecture == "sdxl":
        return _tiny_sdxl_motion_model(seed)
    base = build_tiny_sd15_pipeline(seed)
    adapter = _seeded(seed + 10, tiny_motion_adapter)
    control = _seeded(seed + 11, tiny_sparse_ctrl)
    ip_adapter = _seeded_value(seed + 12, lambda: random_ip_adapter_state_dict(base.unet))
    encoder, predictor = _tiny_encoder_and_predictor(seed)
    sources = MotionSources(
        base=TINY_MOTION_SOURCE,
        motion_adapter=TINY_MOTION_SOURCE,
        sparse_ctrl=TINY_MOTION_SOURCE,
        ip_adapter=TINY_MOTION_SOURCE,
        image_encoder=TINY_MOTION_SOURCE,
    )
    return assemble_motion_model(base, adapter, control, ip_adapter, encoder, predictor, sources)


def _tiny_sdxl_motion_model(seed: int) -> MotionModel:
    base = build_tiny_sdxl_pipeline(seed)
    adapter = _seeded(seed + 10, tiny_motion_adapter)  # the tiny SDXL UNet has the same widths
    ip_adapter = _seeded_value(seed + 12, lambda: random_ip_adapter_state_dict(base.unet))
    encoder, predictor = _tiny_encoder_and_predictor(seed)
    sources = MotionSources(
        base=TINY_MOTION_SOURCE,
        motion_adapter=TINY_MOTION_SOURCE,
        sparse_ctrl="",
        ip_adapter=TINY_MOTION_SOURCE,
        image_encoder=TINY_MOTION_SOURCE,
        architecture="sdxl",
    )
    return assemble_sdxl_motion_model(base, adapter, ip_adapter, encoder, predictor, sources)


def _tiny_encoder_and_predictor(seed: int) -> tuple[Any, SemanticMotionPredictor]:
    encoder = build_tiny_image_encoder(seed + 13, projection_dim=TINY_EMBED_DIM)
    predictor = _seeded(
        seed + 14,
        lambda: SemanticMotionPredictor(
            PredictorConfig(embed_dim=TINY_EMBED_DIM, **UNTRAINED_PREDICTOR)
        ),
    )
    return encoder, predictor


def tiny_motion_adapter() -> MotionAdapter:
    """Temporal layers for the tiny SD 1.5 UNet (same block widths and layers per block)."""
    return MotionAdapter(
        block_out_channels=(32, 64, 64),
        motion_layers_per_block=1,
        motion_num_attention_heads=2,
        motion_norm_num_groups=8,
        motion_max_seq_length=32,
        use_motion_mid_block=False,
    )


def tiny_sparse_ctrl() -> SparseControlNetModel:
    """A SparseCtrl RGB model for the tiny UNet: keyframes enter as VAE latents plus a mask."""
    return SparseControlNetModel(
        in_channels=4,
        conditioning_channels=4,
        down_block_types=(
            "CrossAttnDownBlockMotion",
            "CrossAttnDownBlockMotion",
            "DownBlockMotion",
        ),
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=32,
        attention_head_dim=2,
        motion_num_attention_heads=2,
        use_simplified_condition_embedding=True,
    )


def random_ip_adapter_state_dict(
    unet: UNet2DConditionModel | UNetMotionModel, embed_dim: int = TINY_EMBED_DIM
) -> dict[str, dict[str, torch.Tensor]]:
    """A random base IP-Adapter for ``unet`` (any size), keyed like ``ip-adapter_sd15``.

    The published files number the UNet's attention layers in order, odd
    numbers for cross-attention (``1.to_k_ip``, ``3.to_k_ip``...), and hold
    one key and value projection of the image tokens per cross-attention.
    ``unet`` may be the SD 1.5 UNet or its motion version (whose temporal
    layers take no image tokens).
    """
    cross_width = int(unet.config.cross_attention_dim)
    state: dict[str, dict[str, torch.Tensor]] = {
        "image_proj": {
            "proj.weight": torch.randn(IP_ADAPTER_TOKENS * cross_width, embed_dim) * 0.2,
            "proj.bias": torch.zeros(IP_ADAPTER_TOKENS * cross_width),
            "norm.weight": torch.ones(cross_width),
            "norm.bias": torch.zeros(cross_width),
        },
        "ip_adapter": {},
    }
    cross_attention = [
        name
        for name in unet.attn_processors
        if name.endswith("attn2.processor") and "motion_modules" not in name
    ]
    for index, name in enumerate(cross_attention):
        hidden = _hidden_width(unet, name)
        for projection in ("to_k_ip", "to_v_ip"):
            weight = torch.randn(hidden, cross_width) * 0.3
            state["ip_adapter"][f"{2 * index + 1}.{projection}.weight"] = weight
    return state


def _hidden_width(unet: UNet2DConditionModel | UNetMotionModel, name: str) -> int:
    widths = list(unet.config.block_out_channels)
    if name.startswith("mid_block"):
        return widths[-1]
    block = int(name.split(".")[1])
    return list(reversed(widths))[block] if name.startswith("up_blocks") else widths[block]


def _seeded(seed: int, factory: Callable[[], _Module]) -> _Module:
    return _seeded_value(seed, factory).eval()


def _seeded_value(seed: int, factory: Callable[[], _Built]) -> _Built:
    """Build with a seed of its own, leaving the caller's random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()
