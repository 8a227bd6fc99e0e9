"""Which IP-Adapter a character's reference picture is read by, and how strongly.

A character names an IP-Adapter by kind (one of :data:`IP_ADAPTER_KINDS`, read
from the Hugging Face cache, never downloaded while rendering) or by the path
of a local ``.safetensors`` file. The adapter turns the character's reference
picture into image tokens that its identity images and its panels attend to;
without a reference picture it does nothing. The names and files here are
the ones the model catalogue lists (``storyboard models download``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from storyboard_app.project.errors import ValidationError

IP_ADAPTER_REPO = "h94/IP-Adapter"
VIT_H_ENCODER = "models/image_encoder"
DEFAULT_IP_ADAPTER_SCALE = 0.6
MAX_IP_ADAPTER_SCALE = 2.0
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")


@dataclass(frozen=True)
class IpAdapterKind:
    """A published IP-Adapter: its file and image encoder in ``repo_id``, for one model family."""

    name: str
    architecture: str  # "sdxl" or "sd15", the panel models it fits
    weights: str  # the file inside the repository
    encoder: str  # the image encoder's folder inside the repository
    catalogue_name: str  # what `storyboard models download` takes
    repo_id: str = IP_ADAPTER_REPO


IP_ADAPTER_KINDS: tuple[IpAdapterKind, ...] = (
    IpAdapterKind(
        "sd15",
        "sd15",
        "models/ip-adapter_sd15.safetensors",
        VIT_H_ENCODER,
        "ip-adapter-sd15",
    ),
    IpAdapterKind(
        "sd15-plus-face",
        "sd15",
        "models/ip-adapter-plus-face_sd15.safetensors",
        VIT_H_ENCODER,
        "ip-adapter-sd15-plus-face",
    ),
    IpAdapterKind(
        "sdxl",
        "sdxl",
        "sdxl_models/ip-adapter_sdxl_vit-h.safetensors",
        VIT_H_ENCODER,
        "ip-adapter-sdxl",
    ),
    IpAdapterKind(
        "sdxl-plus-face",
        "sdxl",
        "sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors",
        VIT_H_ENCODER,
        "ip-adapter-sdxl-plus-face",
    ),
)


def find_kind(name: str) -> IpAdapterKind | None:
    """The published adapter called ``name``; None for a local file's path."""
    return next((kind for kind in IP_ADAPTER_KINDS if kind.name == name), None)


def kind_names() -> str:
    return ", ".join(kind.name for kind in IP_ADAPTER_KINDS)


def check_ip_adapter(value: object, character: str) -> str:
    """A kind name, or an existing local ``.safetensors`` file (made absolute); "" is none.

    Pickle files are refused by name, never opened: unpickling runs code.
    """
    text = str(value if value is not None else "").strip()
    if not text or find_kind(text) is not None:
        return text
    path = Path(text).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ValidationError(
            f"The IP-Adapter of {character}, {path.name}, is a pickle file, which can run code "
            "when opened.",
            "Use the .safetensors file of the adapter (h94/IP-Adapter publishes one of each).",
        )
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        raise ValidationError(
            f"The IP-Adapter of {character}, {text!r}, is neither a known kind nor an "
            ".safetensors file.",
            f"Use one of {kind_names()}, or the path of an IP-Adapter .safetensors file.",
        )
    return str(path.resolve())


def check_ip_adapter_scale(value: object, character: str) -> float:
    """How strongly the adapter's image tokens count: 0 (not at all) to 2."""
    try:
        scale = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        scale = math.nan
    if not 0.0 <= scale <= MAX_IP_ADAPTER_SCALE:
        raise ValidationError(
            f"The IP-Adapter scale of {character}, {value!r}, is not a number from 0 to "
            f"{MAX_IP_ADAPTER_SCALE:g}.",
            "Use 0 to switch it off, about 0.5 to 0.8 for a likeness, 1 for a strong one.",
        )
    return scale


def stored_ip_adapter_scale(value: object) -> float:
    """The stored scale; a hand-edited value out of range reads as the default."""
    try:
        scale = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_IP_ADAPTER_SCALE
    return scale if 0.0 <= scale <= MAX_IP_ADAPTER_SCALE else DEFAULT_IP_ADAPTER_SCALE


def ip_adapter_signature(adapter: str, scale: float, picture: str | None) -> str | None:
    """What of a character's IP-Adapter changes its pictures; None when it steers nothing
    (no adapter, scale 0, or no reference picture to read)."""
    if not adapter or scale <= 0.0 or picture is None:
        return None
    return f"{adapter}:{float(scale)!r}:{picture}"
