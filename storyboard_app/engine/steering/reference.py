"""A character's reference picture in its identity pass, training-free.

The picture joins the character's identity batch as one more image: it is
encoded by the VAE once, and before every step its latent is replaced by the
clean latent noised to that step's timestep (the same noise at every step,
drawn from the character's seed), so the UNet sees the picture at the noise
level the identity images are at, and it is never denoised. Its sampled
self-attention tokens are recorded into the identity cache like an identity
image's, so every panel naming the character attends to features of the
picture (the idea of the "reference-only" control of sd-webui-controlnet,
applied to our identity cache). The strength keeps that share of the
picture's sampled tokens in the cache.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from storyboard_app.engine.identity_cache import IdentitySink
from storyboard_app.engine.render_request import CharacterIdentity, ReferencePicture
from storyboard_app.project.media import image_extension, read_image_file
from storyboard_app.project.seeds import derive_seed

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
WHITE = (255, 255, 255)


def uses_reference(character: CharacterIdentity) -> ReferencePicture | None:
    """The character's picture when it steers at all (strength 0 is no picture)."""
    reference = character.reference
    if reference is None or reference.strength <= 0.0:
        return None
    return reference


def reference_key(character: CharacterIdentity) -> dict[str, object]:
    """The identity cache key's parts for the picture: none without one, so the keys
    of characters without a picture stay what they were."""
    reference = uses_reference(character)
    if reference is None:
        return {}
    return {"reference": reference.digest, "reference_strength": reference.strength}


def load_reference(reference: ReferencePicture, width: int, height: int) -> Image.Image:
    """The picture as RGB at the render size: upright, cropped to the render's aspect.

    The size and format check of every image the project stores runs first, so
    a decompression bomb is refused before Pillow decodes a pixel.
    """
    return ImageOps.fit(open_picture(reference.path), (width, height), Image.Resampling.LANCZOS)


def open_picture(path: Path) -> Image.Image:
    """A stored picture as upright 8-bit RGB, whatever its mode; bombs refused unread."""
    data = read_image_file(path)
    image_extension(data, f"The reference picture {path.name}")
    with Image.open(io.BytesIO(data)) as opened:
        upright = ImageOps.exif_transpose(opened)
        return to_rgb(upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; transparency is laid over white."""
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0.0) > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max(initial=0.0)), 1e-12)
        grey = np.clip(values / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("P", "PA") or "A" in image.getbands() or image.mode in ("La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def encode_picture(vae: Any, image: Image.Image, device: torch.device, dtype: torch.dtype) -> Any:
    """The picture's scaled latent ``[1, C, h, w]``, as the pipeline's decoder expects it.

    A VAE that must run in float32 (SDXL's, ``force_upcast``) is upcast for the
    encode and put back.
    """
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
    pixels = pixels.permute(2, 0, 1)[None]
    upcast = dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))
    vae_dtype = torch.float32 if upcast else dtype
    if upcast:
        vae.to(torch.float32)
    try:
        latent = vae.encode(pixels.to(device=device, dtype=vae_dtype)).latent_dist.mean
    finally:
        if upcast:
            vae.to(dtype)
    mean = getattr(vae.config, "latents_mean", None)
    std = getattr(vae.config, "latents_std", None)
    scaling = vae.config.scaling_factor
    if mean is not None and std is not None:
        shape = (1, -1, 1, 1)
        mean_t = torch.tensor(mean, device=latent.device).view(shape)
        std_t = torch.tensor(std, device=latent.device).view(shape)
        latent = (latent - mean_t) * scaling / std_t
    else:
        latent = latent * scaling
    return latent.to(dtype)


class ReferenceInPass:
    """Keeps the picture's slot of a denoising batch at each step's noise level."""

    def __init__(self, clean: torch.Tensor, noise: torch.Tensor, index: int, scheduler: Any):
        self.clean = clean
        self.noise = noise
        self.index = index
        self.scheduler = scheduler

    @classmethod
    def prepare(
        cls, pipe: Any, character: CharacterIdentity, size: tuple[int, int], index: int
    ) -> ReferenceInPass:
        """Encode the character's picture for the batch position ``index``."""
        reference = uses_reference(character)
        if reference is None:
            raise ValueError(f"{character.name} has no reference picture that steers.")
        width, height = size
        # Under CPU offload the VAE's weights wait on the CPU: encode where they are,
        # then move the latent to where the denoising runs.
        device = getattr(pipe, "_execution_device", pipe.unet.device)
        dtype = pipe.unet.dtype
        vae_device = next(pipe.vae.parameters()).device
        image = load_reference(reference, width, height)
        clean = encode_picture(pipe.vae, image, vae_device, dtype).to(device)
        generator = torch.Generator().manual_seed(derive_seed(character.seed, "reference:noise"))
        noise = torch.randn(clean.shape, generator=generator).to(device=device, dtype=dtype)
        return cls(clean, noise, index, pipe.scheduler)

    def noised(self, timestep: torch.Tensor) -> torch.Tensor:
        """The clean latent noised to ``timestep`` with the fixed noise."""
        timesteps = torch.as_tensor(timestep, device=self.clean.device).reshape(1)
        return self.scheduler.add_noise(self.clean, self.noise, timesteps)

    def initial(self, latents: torch.Tensor, steps: int) -> torch.Tensor:
        """The batch's starting latents with the picture at the first timestep.

        The pipeline multiplies given latents by ``init_noise_sigma``: divided out here.
        """
        self.scheduler.set_timesteps(steps, device=latents.device)
        first = self.noised(self.scheduler.timesteps[0]) / self.scheduler.init_noise_sigma
        return self._placed(latents, first)

    def after_step(self, step: int, latents: torch.Tensor) -> torch.Tensor:
        """The latents after step ``step`` with the picture at the next timestep."""
        timesteps = self.scheduler.timesteps
        if step + 1 >= len(timesteps):
            return latents
        return self._placed(latents, self.noised(timesteps[step + 1]))

    def _placed(self, latents: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
        placed = latents.clone()
        placed[self.index] = picture[0].to(device=latents.device, dtype=latents.dtype)
        return placed


class ReferenceTokens:
    """An identity sink that keeps ``strength`` of the picture's sampled tokens.

    Tokens arrive as ``[halves, images * k, C]``, each image's k in batch order;
    the picture is the last image, so the first ``round(strength * k)`` of its k
    tokens are kept and the rest dropped.
    """

    def __init__(self, sink: IdentitySink, images: int, strength: float) -> None:
        self.sink = sink
        self.key = sink.key
        self.images = images
        self.strength = strength

    def put(self, step: int, layer: str, tokens: torch.Tensor) -> None:
        k = tokens.shape[1] // self.images
        kept = (self.images - 1) * k + round(self.strength * k)
        self.sink.put(step, layer, tokens[:, :kept])

    def end_step(self, step: int) -> None:
        self.sink.end_step(step)


def picture_slot(character: CharacterIdentity) -> tuple[str, int]:
    """The prompt and seed of the picture's slot in the identity batch (its negative
    prompt is the identity images').

    Its prompt is the character's description: what the picture shows.
    """
    return character.description, derive_seed(character.seed, "reference:image")
