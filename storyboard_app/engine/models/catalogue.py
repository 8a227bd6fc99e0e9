"""What Storyboard can use, by job, with exactly the files each entry needs.

Each entry is one hub repository and the ``allow_patterns`` (fnmatch, as
``huggingface_hub.snapshot_download`` reads them) of the files the engine
loads: safetensors weights and their configs and tokenizers, never a whole
repository and never a pickle file. Where a repository offers fp16 weights,
those are listed: they are half the download, and the loader reads a folder
of fp16 files as the ``fp16`` variant in whatever dtype the device wants.
Sizes are approximate (what the listed files weigh on the hub).

What was checked against the hub's file listings (model pages and trees seen
through the project's reference library, not by downloading):
``sdxl-base`` (fp16 unet 5.14 GB, text encoder 2 1.39 GB, VAE 167 MB); ``realvisxl-v4`` (unet fp16
5.14 GB on main; its fp16 text encoders and VAE seen in sibling RealVisXL
versions); ``animagine-xl-3.1`` (main holds half-precision weights under the
plain names and no ``.fp16`` copies, hence ``_SDXL_PLAIN``: text encoders 246 MB
and 1.39 GB, unet 5.14 GB); ``motion-adapter-sdxl`` (config 339 B, fp16 weights
474 MB, in the diffusers conversion its model card points to). Not verified:
``juggernaut-xl-v9`` (the listings seen show the single 7.1 GB checkpoint;
diffusers folders with fp16 weights are assumed) and, in this pass, ``sd15``,
``motion-adapter``, ``sparsectrl-rgb`` and the ``h94/IP-Adapter`` file names
beyond what the engine's defaults already name. A file the hub lacks fails the download
with "the catalogue entry is out of date" and keeps what was fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Literal

from storyboard_app.engine.errors import ModelNotFoundError

Job = Literal["panels", "transitions", "reference pictures"]
JOBS: tuple[Job, ...] = ("panels", "transitions", "reference pictures")

_PIPELINE_CONFIGS = (
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/*.json",
    "tokenizer/*.txt",
    "text_encoder/config.json",
    "unet/config.json",
    "vae/config.json",
)
_SDXL_CONFIGS = (
    *_PIPELINE_CONFIGS,
    "tokenizer_2/*.json",
    "tokenizer_2/*.txt",
    "text_encoder_2/config.json",
)
_SDXL_FP16 = (
    *_SDXL_CONFIGS,
    "text_encoder/model.fp16.safetensors",
    "text_encoder_2/model.fp16.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
)
# Repositories that store half-precision weights under the plain names (no fp16 copies).
_SDXL_PLAIN = (
    *_SDXL_CONFIGS,
    "text_encoder/model.safetensors",
    "text_encoder_2/model.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
)
_SD15_FP16 = (
    *_PIPELINE_CONFIGS,
    "feature_extractor/preprocessor_config.json",
    "text_encoder/model.fp16.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
)
_SINGLE_MODEL = ("config.json", "diffusion_pytorch_model.safetensors")
_VIT_H_ENCODER = ("models/image_encoder/config.json", "models/image_encoder/model.safetensors")


@dataclass(frozen=True)
class CatalogueEntry:
    """One downloadable model: ``name`` is what ``storyboard models download`` takes."""

    name: str
    job: Job
    repo_id: str
    allow_patterns: tuple[str, ...]
    size_gb: float
    licence: str
    enables: str

    @property
    def page(self) -> str:
        """The model's page, where a gated licence is accepted."""
        return f"https://huggingface.co/{self.repo_id}"

    @property
    def download_command(self) -> str:
        return f"storyboard models download {self.name}"


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "sdxl-base",
        "panels",
        "stabilityai/stable-diffusion-xl-base-1.0",
        _SDXL_FP16,
        6.9,
        "CreativeML Open RAIL++-M",
        "SDXL panels (the default panel model, 1024 px)",
    ),
    CatalogueEntry(
        "sd15",
        "panels",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        _SD15_FP16,
        2.1,
        "CreativeML Open RAIL-M",
        "SD 1.5 panels (small GPUs) and the base of every generated transition",
    ),
    CatalogueEntry(
        "realvisxl-v4",
        "panels",
        "SG161222/RealVisXL_V4.0",
        _SDXL_FP16,
        6.9,
        "CreativeML Open RAIL++-M",
        "photographic SDXL panels",
    ),
    CatalogueEntry(
        "juggernaut-xl-v9",
        "panels",
        "RunDiffusion/Juggernaut-XL-v9",
        _SDXL_FP16,
        6.9,
        "CreativeML Open RAIL++-M",
        "cinematic SDXL panels",
    ),
    CatalogueEntry(
        "animagine-xl-3.1",
        "panels",
        "cagliostrolab/animagine-xl-3.1",
        _SDXL_PLAIN,
        6.9,
        "Fair AI Public License 1.0-SD",
        "anime and manga SDXL panels",
    ),
    CatalogueEntry(
        "motion-adapter",
        "transitions",
        "guoyww/animatediff-motion-adapter-v1-5-3",
        _SINGLE_MODEL,
        1.7,
        "Apache-2.0",
        "generated transitions: the AnimateDiff motion module for SD 1.5",
    ),
    CatalogueEntry(
        "motion-adapter-sdxl",
        "transitions",
        "guoyww/animatediff-motion-adapter-sdxl-beta",
        ("config.json", "diffusion_pytorch_model.fp16.safetensors"),
        0.5,
        "Apache-2.0",
        "generated transitions in SDXL projects: the AnimateDiff motion module for SDXL (beta)",
    ),
    CatalogueEntry(
        "sparsectrl-rgb",
        "transitions",
        "guoyww/animatediff-sparsectrl-rgb",
        _SINGLE_MODEL,
        1.4,
        "Apache-2.0",
        "generated transitions: holds the first and last frames to the two panels",
    ),
    CatalogueEntry(
        "ip-adapter-sd15",
        "transitions",
        "h94/IP-Adapter",
        ("models/ip-adapter_sd15.safetensors", *_VIT_H_ENCODER),
        2.6,
        "Apache-2.0",
        "generated transitions: the IP-Adapter for SD 1.5 and its CLIP ViT-H image encoder "
        "(also what `storyboard train-motion` embeds with, and a character's reference "
        "picture in SD 1.5 panels: `--ip-adapter sd15`)",
    ),
    CatalogueEntry(
        "ip-adapter-sd15-plus-face",
        "reference pictures",
        "h94/IP-Adapter",
        ("models/ip-adapter-plus-face_sd15.safetensors", *_VIT_H_ENCODER),
        2.6,
        "Apache-2.0",
        "a character's reference face read by IP-Adapter Plus Face, for SD 1.5 panels "
        "(`storyboard edit-character PROJECT NAME --ip-adapter sd15-plus-face`)",
    ),
    CatalogueEntry(
        "ip-adapter-sdxl",
        "reference pictures",
        "h94/IP-Adapter",
        ("sdxl_models/ip-adapter_sdxl_vit-h.safetensors", *_VIT_H_ENCODER),
        3.2,
        "Apache-2.0",
        "a character's reference picture read by IP-Adapter (ViT-H encoder), for SDXL panels "
        "(`storyboard edit-character PROJECT NAME --ip-adapter sdxl`), and generated "
        "transitions in SDXL projects",
    ),
    CatalogueEntry(
        "ip-adapter-sdxl-plus-face",
        "reference pictures",
        "h94/IP-Adapter",
        ("sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors", *_VIT_H_ENCODER),
        3.4,
        "Apache-2.0",
        "a character's reference face read by IP-Adapter Plus Face (ViT-H encoder), for SDXL "
        "panels (`storyboard edit-character PROJECT NAME --ip-adapter sdxl-plus-face`)",
    ),
)


def find_entry(name: str, entries: Sequence[CatalogueEntry] = CATALOGUE) -> CatalogueEntry:
    """The entry called ``name`` (or whose repository is ``name``); raises naming the choices."""
    wanted = name.strip()
    for entry in entries:
        if wanted in (entry.name, entry.repo_id):
            return entry
    raise ModelNotFoundError(
        f"{wanted or 'An empty name'} is not in the model catalogue.",
        f"Use one of: {', '.join(e.name for e in entries)} (see `storyboard models`).",
    )


def entries_for(
    repo_id: str, inner: str = "", entries: Sequence[CatalogueEntry] = CATALOGUE
) -> list[CatalogueEntry]:
    """The entries of ``repo_id`` whose files include ``inner`` (a file or folder in the repo)."""
    found = []
    for entry in entries:
        if entry.repo_id != repo_id:
            continue
        if not inner or any(_covers(pattern, inner) for pattern in entry.allow_patterns):
            found.append(entry)
    return found


def needed_patterns(repo_id: str, inner: str = "") -> list[str] | None:
    """The files of ``repo_id`` (or of its file or folder ``inner``) a loader needs, if known.

    huggingface_hub checks a cached snapshot against the repository's listing:
    without patterns, a snapshot downloaded with the catalogue's
    ``allow_patterns`` counts as incomplete. ``None``: the whole repository.
    """
    found = entries_for(repo_id, inner)
    if not inner:
        return list(found[0].allow_patterns) if found else None
    folder = inner.rstrip("/") + "/"
    inside = [p for e in found for p in e.allow_patterns if p == inner or p.startswith(folder)]
    return sorted(set(inside)) or [inner, f"{folder}*"]


def download_hint(repo_id: str, inner: str = "") -> str:
    """The one command that downloads ``repo_id`` (or the file ``inner`` of it)."""
    found = entries_for(repo_id, inner)
    if found:
        return f"Download it with `{found[0].download_command}`."
    target = f"{repo_id} {inner}".strip()
    return f"Download it on a connected machine with `hf download {target}`."


def _covers(pattern: str, inner: str) -> bool:
    folder = inner.rstrip("/") + "/"
    return fnmatch(inner, pattern) or pattern.startswith(folder)
