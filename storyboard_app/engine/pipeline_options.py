"""Per-render pipeline options: FreeU and how the VAE decodes.

Both change state on the pipeline's modules, so each is a context manager
that sets it for one render and puts the previous state back in ``finally``,
like the attention processors: a later render (or a transition on the same
pipeline) never inherits a setting it did not ask for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from diffusers import DiffusionPipeline

# The published FreeU factors (diffusers' "image quality" guide and the FreeU
# repository): backbone b1/b2 and skip s1/s2 of the first two up-stages.
FREEU_FACTORS: Mapping[str, Mapping[str, float]] = {
    "sdxl": {"b1": 1.3, "b2": 1.4, "s1": 0.9, "s2": 0.2},
    "sd15": {"b1": 1.5, "b2": 1.6, "s1": 0.9, "s2": 0.2},
}
# Above this side the VAE decodes in tiles: a whole 2048 px image upcast to
# fp32 needs about 12 GiB of decoder activations.
TILED_DECODE_ABOVE = 1536


@contextmanager
def freeu(pipe: DiffusionPipeline, architecture: str, enabled: bool) -> Iterator[None]:
    """FreeU with the architecture's published factors while the block runs (off after)."""
    if enabled:
        pipe.enable_freeu(**FREEU_FACTORS[architecture])
    else:
        pipe.disable_freeu()
    try:
        yield
    finally:
        pipe.disable_freeu()


@contextmanager
def decode_per_image(pipe: DiffusionPipeline, width: int, height: int) -> Iterator[None]:
    """Decode one image at a time, in tiles above ``TILED_DECODE_ABOVE`` px.

    Decoding a window at once keeps every image's fp32 activations alive
    together; one at a time the peak is one image's. Tiling a low-VRAM preset
    turned on stays on.
    """
    vae = pipe.vae
    slicing, tiling = vae.use_slicing, vae.use_tiling
    vae.enable_slicing()
    if max(width, height) > TILED_DECODE_ABOVE:
        vae.enable_tiling()
    try:
        yield
    finally:
        vae.use_slicing, vae.use_tiling = slicing, tiling
