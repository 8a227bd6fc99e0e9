"""Cheap step previews: latents to a small RGB image without running the VAE.

Decoding with the VAE at every step would cost as much as a denoising step;
a fixed linear map from the four latent channels to RGB, fitted once per
architecture by the community (the factors ComfyUI and A1111 ship), gives a
recognisable colour preview for almost nothing. The result is a numpy array
because previews cross threads, and tensors must not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch

# Rows: latent channels 0-3; columns: R, G, B. Inputs are the pipeline's
# scaled latents (as in the denoising loop); outputs are roughly in [-1, 1].
LATENT_RGB_FACTORS: Mapping[str, tuple[tuple[float, float, float], ...]] = {
    "sdxl": (
        (0.3651, 0.4232, 0.4341),
        (-0.2533, -0.0042, 0.1068),
        (0.1076, 0.1111, -0.0362),
        (-0.3165, -0.2492, -0.2188),
    ),
    "sd15": (
        (0.3512, 0.2297, 0.3227),
        (0.3250, 0.4974, 0.2350),
        (-0.2829, 0.1762, 0.2721),
        (-0.2120, -0.2616, -0.7177),
    ),
}
LATENT_RGB_BIAS: Mapping[str, tuple[float, float, float]] = {
    "sdxl": (0.1084, -0.0175, -0.0011),
    "sd15": (0.0, 0.0, 0.0),
}


def latents_to_preview(latents: torch.Tensor, architecture: str, *, index: int = 0) -> np.ndarray:
    """RGB preview (H, W, 3) uint8 of one image of a latent batch, at latent resolution.

    ``latents`` is (batch, 4, h, w) or (4, h, w), on any device and dtype; the
    preview of a 1024 px SDXL image is 128 x 128. The predicted clean latents
    (x0) give a clearer preview than the noisy ones, when a caller has them.
    """
    if architecture not in LATENT_RGB_FACTORS:
        raise ValueError(f"No preview factors for architecture {architecture!r}.")
    image = latents[index] if latents.ndim == 4 else latents
    if image.ndim != 3 or image.shape[0] != 4:
        raise ValueError(
            f"Expected 4 latent channels, got a tensor of shape {tuple(latents.shape)}."
        )
    device = image.device
    factors = torch.tensor(LATENT_RGB_FACTORS[architecture], dtype=torch.float32, device=device)
    bias = torch.tensor(LATENT_RGB_BIAS[architecture], dtype=torch.float32, device=device)
    with torch.no_grad():
        # Mapped where the latents are: only the small uint8 picture is copied to the host.
        rgb = torch.einsum("chw,cr->hwr", image.detach().float(), factors) + bias
        scaled = ((rgb + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).round()
    return np.ascontiguousarray(scaled.to(torch.uint8).cpu().numpy())


class LatentPreviews(Mapping[int | str, np.ndarray]):
    """The step previews of a latent batch, made only when read (and once each).

    A step reports previews for every image it denoises, but the app shows
    them a few times a second and the command line never: making each one
    costs a device-to-host copy in every step. Read it while handling the
    step's event; the latents move on at the next step.
    """

    def __init__(self, latents: torch.Tensor, architecture: str, keys: Sequence[int | str]) -> None:
        self._latents = latents
        self._architecture = architecture
        self._index = {key: index for index, key in enumerate(keys)}
        self._made: dict[int | str, np.ndarray] = {}

    def __getitem__(self, key: int | str) -> np.ndarray:
        if key not in self._made:
            index = self._index[key]
            self._made[key] = latents_to_preview(self._latents, self._architecture, index=index)
        return self._made[key]

    def __iter__(self) -> Iterator[int | str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)
