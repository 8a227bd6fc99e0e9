"""IP-Adapter for one render: a character's reference picture as extra image tokens.

The adapters the characters name are read from a local file or the Hugging
Face cache (never downloaded), loaded with diffusers' ``load_ip_adapter`` when
the render starts and unloaded when it ends; the processors that were there
before are put back, so the consistent self-attention processors installed on
top (on ``attn1``; IP-Adapter replaces ``attn2``) come and go as before.

Each character's picture is embedded once per adapter by the adapter's CLIP
image encoder, and kept (in memory and in the project's cache folder) under
the picture's hash and the adapter, so later renders load no encoder. A local
adapter file counts by its content (hashed once per version of the file), so
one replaced under the same name gets new embeddings and identity caches. Before
every pipeline call the pass's characters choose the embeddings and scales:
a character's own in its identity pass and its panels; the mean of both in a
panel of two (the project has no regions to mask each to its place); for any
other adapter loaded, zero embeddings at scale 0, which diffusers' processor
skips, so a panel without an adapter's character renders as without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from storyboard_app.engine.cache_store import EMBEDS_FORMAT, EMBEDS_TENSOR
from storyboard_app.engine.errors import ModelLoadError
from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.engine.motion.encoder import ClipImageEncoder, load_image_encoder
from storyboard_app.engine.motion.sources import refuse_pickle, resolve_component
from storyboard_app.engine.render_request import IpAdapterJob, RenderRequest
from storyboard_app.engine.steering.reference import open_picture
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.ip_adapters import IpAdapterKind, find_kind
from storyboard_app.project.loras import file_digest

AdapterState = dict[str, dict[str, torch.Tensor]]
_EDIT_HINT = "storyboard edit-character PROJECT NAME --ip-adapter KIND_OR_FILE (or --no-ip-adapter)"


@dataclass(frozen=True)
class AdapterFiles:
    """Where one adapter's weights and its CLIP image encoder folder are."""

    weights: Path
    encoder: Path


@dataclass(frozen=True)
class IpAdapterPlan:
    """The adapters of a render: each character's job, and each adapter's files."""

    jobs: Mapping[str, IpAdapterJob]  # by character name
    files: Mapping[str, AdapterFiles]  # by adapter (kind or path), in load order

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(self.files)


def plan_ip_adapters(request: RenderRequest, names: Sequence[str]) -> IpAdapterPlan:
    """Find the files of every adapter ``names`` use, before any GPU work; refuse clearly."""
    jobs = {
        c.name: c.ip_adapter
        for c in request.characters
        if c.name in names and c.ip_adapter is not None
    }
    files = {job.adapter: locate_adapter(job.adapter) for job in jobs.values()}
    return IpAdapterPlan(jobs, files)


def locate_adapter(adapter: str) -> AdapterFiles:
    """A published kind from the hub cache, or a local ``.safetensors`` with its encoder."""
    kind = find_kind(adapter)
    if kind is not None:
        return _cached_kind(kind)
    weights = Path(adapter)
    refuse_pickle(weights, "IP-Adapter")
    if not weights.is_file():
        raise ValidationError(f"The IP-Adapter file {weights} is missing.", _EDIT_HINT)
    candidates = (weights.parent / "image_encoder", weights.parent.parent / "models/image_encoder")
    for encoder in candidates:
        if (encoder / "config.json").is_file():
            return AdapterFiles(weights, encoder)
    raise ValidationError(
        f"No image encoder for the IP-Adapter {weights.name}: looked for "
        f"{' and '.join(str(c) for c in candidates)}.",
        "Put the CLIP image encoder the adapter was trained with (h94/IP-Adapter "
        "models/image_encoder: config.json and model.safetensors) in image_encoder/ beside it.",
    )


def _cached_kind(kind: IpAdapterKind) -> AdapterFiles:
    """The kind's files in the hub cache; all that is missing named in one message."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for inner in (kind.weights, kind.encoder):
        try:
            found[inner] = resolve_component(f"{kind.repo_id}/{inner}", f"IP-Adapter {kind.name}")
        except ModelLoadError:
            missing.append(inner + ("/" if inner == kind.encoder else ""))
    if missing:
        files = [kind.weights, f"{kind.encoder}/config.json", f"{kind.encoder}/model.safetensors"]
        raise ValidationError(
            f"The IP-Adapter {kind.name} needs {' and '.join(missing)} of the Hugging Face "
            f"repository {kind.repo_id}, not in the local cache ({hub_cache_dir()}); nothing "
            "is downloaded while rendering.",
            f"Download them with `storyboard models download {kind.catalogue_name}` "
            f"(or `hf download {kind.repo_id} {' '.join(files)}`), or give the character "
            f"a local file: {_EDIT_HINT}.",
        )
    return AdapterFiles(found[kind.weights], found[kind.encoder])


def read_adapter(path: Path) -> AdapterState:
    """An IP-Adapter file as the nested dict ``load_ip_adapter`` takes (plain or Plus)."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ValidationError(
            f"The IP-Adapter {path.name} is not a readable .safetensors file ({error}).",
            "The file is damaged or incomplete: download it again.",
        ) from None
    state: AdapterState = {"image_proj": {}, "ip_adapter": {}}  # this order: diffusers checks
    for key, value in tensors.items():
        group, _, name = key.partition(".")
        if group in state:
            state[group][name] = value
    projection = state["image_proj"]
    if not state["ip_adapter"] or not ("proj.weight" in projection or "latents" in projection):
        raise ValidationError(
            f"{path.name} is not a plain or Plus IP-Adapter.",
            "Use ip-adapter_sd15, ip-adapter-plus-face_sd15 or their SDXL (vit-h) versions; "
            "FaceID and full-face adapters are not supported.",
        )
    return state


def is_plus(state: AdapterState) -> bool:
    """A Plus adapter reads the encoder's patch features, not its pooled embedding."""
    return "latents" in state["image_proj"]


def check_fits(state: AdapterState, name: str, unet: Any, encoder: ClipImageEncoder) -> None:
    """The adapter must be for this model family and read this encoder's features."""
    key = next(k for k in state["ip_adapter"] if k.endswith("to_k_ip.weight"))
    width = int(state["ip_adapter"][key].shape[1])
    if width != int(unet.config.cross_attention_dim):
        raise ValidationError(
            f"The IP-Adapter {name} is for another model family (its tokens are {width} wide, "
            f"this model's {unet.config.cross_attention_dim}).",
            "Use an sd15 adapter with SD 1.5 models and an sdxl one with SDXL models.",
        )
    config = encoder.model.config
    if is_plus(state):
        wanted, has = int(state["image_proj"]["proj_in.weight"].shape[1]), int(config.hidden_size)
    else:
        wanted, has = int(state["image_proj"]["proj.weight"].shape[1]), int(config.projection_dim)
    if wanted != has:
        raise ValidationError(
            f"The IP-Adapter {name} reads {wanted}-wide image features; its image encoder "
            f"gives {has}.",
            "Use the image encoder the adapter was trained with (h94/IP-Adapter "
            "models/image_encoder for the vit-h adapters).",
        )


def picture_embeds(encoder: ClipImageEncoder, image: Image.Image, plus: bool) -> torch.Tensor:
    """``[2, 1, ...]``: the unconditional and the picture's features, as diffusers makes them
    (a zero embedding, or for Plus the features of an all-zero input)."""
    pixels = encoder.preprocessing([image]).to(encoder.device, encoder.dtype)
    if plus:
        both = torch.cat([torch.zeros_like(pixels), pixels])
        features = encoder.model(pixel_values=both, output_hidden_states=True).hidden_states[-2]
        return features[:, None].float().cpu()
    embedding = encoder.model(pixel_values=pixels).image_embeds.float().cpu()
    return torch.stack([torch.zeros_like(embedding), embedding])


class PictureEmbeddings:
    """Embeddings of reference pictures by picture and adapter: in memory, and on disk
    under the identity cache folder when the render has one (safetensors, no pickle)."""

    def __init__(self) -> None:
        self.memory: dict[str, torch.Tensor] = {}
        self.computed = 0  # how many were made by an encoder (tests, logs)

    def get(
        self, job: IpAdapterJob, files: AdapterFiles, state: AdapterState, folder: Path | None
    ) -> torch.Tensor | None:
        """The stored embeddings, or None when they must be computed."""
        key = embeds_key(job, files, state)
        if key in self.memory:
            return self.memory[key]
        path = None if folder is None else folder / f"{key}.safetensors"
        if path is not None and path.is_file():
            try:
                self.memory[key] = load_file(str(path))[EMBEDS_TENSOR]
                return self.memory[key]
            except (SafetensorError, OSError, KeyError):
                path.unlink(missing_ok=True)  # damaged: made again below
        return None

    def put(
        self,
        job: IpAdapterJob,
        files: AdapterFiles,
        state: AdapterState,
        folder: Path | None,
        embeds: torch.Tensor,
        character: str = "",
    ) -> Path | None:
        """Keep ``embeds``; returns the file written (None without a folder).

        The file names the character and adapter it was made for, so ``storyboard
        cache`` can list it and ``--clear CHARACTER`` remove it (another character
        with the same picture and adapter shares it; clearing it only costs a rebuild).
        """
        key = embeds_key(job, files, state)
        self.memory[key] = embeds
        self.computed += 1
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{key}.partial"
        metadata = {
            "format": EMBEDS_FORMAT,
            "character": character,
            "summary": f"IP-Adapter embeddings, {job.record()['adapter']}",
        }
        save_file({EMBEDS_TENSOR: embeds.contiguous()}, str(partial), metadata=metadata)
        path = folder / f"{key}.safetensors"
        os.replace(partial, path)
        return path


def embeds_key(job: IpAdapterJob, files: AdapterFiles, state: AdapterState) -> str:
    """Picture hash, adapter file and encoder: what the embeddings depend on (not the scale)."""
    config = (files.encoder / "config.json").read_bytes()
    weights = sorted(p.name + str(p.stat().st_size) for p in files.encoder.glob("*.safetensors"))
    parts: dict[str, object] = {
        "picture": job.picture_digest,
        "adapter": files.weights.name,
        "plus": is_plus(state),
        "encoder": hashlib.sha256(config).hexdigest(),
        "encoder_weights": weights,
    }
    digest = local_adapter_digest(job.adapter)
    if digest is not None:  # kinds sign as before: their hub files are never rewritten
        parts["adapter_digest"] = digest
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def local_adapter_digest(adapter: str) -> str | None:
    """A local adapter file's SHA-256 (None for a published kind), hashed as LoRA files are.

    Its name alone would keep the embeddings and identity caches of a file the user
    replaced in place. Hashing is paid once per version of the file in a process:
    the path, size and modification time tell a replaced one.
    """
    if find_kind(adapter) is not None:
        return None
    path = Path(adapter).resolve()
    try:
        stat = path.stat()
    except OSError:
        raise ValidationError(f"The IP-Adapter file {path} is missing.", _EDIT_HINT) from None
    return _file_version_digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_version_digest(path: str, size: int, mtime_ns: int) -> str:
    """The hash of ``path`` as it is; ``size`` and ``mtime_ns`` only key the memo."""
    return file_digest(Path(path))


class IpAdapterSet:
    """The loaded adapters of a render and every character's embeddings for them."""

    def __init__(
        self,
        pipe: Any,
        plan: IpAdapterPlan,
        embeds: Mapping[str, torch.Tensor],
        guided: bool,
    ) -> None:
        self.pipe = pipe
        self.plan = plan
        self.embeds = dict(embeds)
        self.guided = guided

    def call_kwargs(self, names: Sequence[str]) -> dict[str, Any]:
        """Set each adapter's scale for a pass of ``names``; return the call's embeddings."""
        device = getattr(self.pipe, "_execution_device", self.pipe.unet.device)
        dtype = self.pipe.unet.dtype
        all_embeds, scales = [], []
        for adapter in self.plan.adapters:
            users = [n for n in dict.fromkeys(names) if self._adapter_of(n) == adapter]
            embeds, scale = self._for_adapter(adapter, users)
            all_embeds.append((embeds if self.guided else embeds[1:]).to(device, dtype))
            scales.append(scale)
        self.pipe.set_ip_adapter_scale(scales)
        return {"ip_adapter_image_embeds": all_embeds}

    def _adapter_of(self, name: str) -> str | None:
        job = self.plan.jobs.get(name)
        return None if job is None else job.adapter

    def _for_adapter(self, adapter: str, users: Sequence[str]) -> tuple[torch.Tensor, float]:
        """One character's embeddings and scale; the mean of several; zeros at scale 0."""
        if not users:
            first = next(n for n in self.plan.jobs if self._adapter_of(n) == adapter)
            return torch.zeros_like(self.embeds[first]), 0.0
        if len(users) == 1:
            return self.embeds[users[0]], self.plan.jobs[users[0]].scale
        mean = torch.stack([self.embeds[n] for n in users]).mean(0)
        return mean, sum(self.plan.jobs[n].scale for n in users) / len(users)


def embed_pictures(
    plan: IpAdapterPlan,
    states: Mapping[str, AdapterState],
    store: PictureEmbeddings,
    folder: Path | None,
    unet: Any,
    device: str,
) -> dict[str, torch.Tensor]:
    """Every character's embeddings: stored ones, else computed (one encoder per adapter,
    loaded only when some picture is new and checked against its adapter first)."""
    embeds: dict[str, torch.Tensor] = {}
    for adapter, files in plan.files.items():
        users = [name for name, job in plan.jobs.items() if job.adapter == adapter]
        encoder: ClipImageEncoder | None = None
        for name in users:
            job = plan.jobs[name]
            stored = store.get(job, files, states[adapter], folder)
            if stored is None:
                if encoder is None:
                    encoder = load_image_encoder(str(files.encoder), device=device)
                    check_fits(states[adapter], files.weights.name, unet, encoder)
                stored = picture_embeds(
                    encoder, open_picture(job.picture), is_plus(states[adapter])
                )
                store.put(job, files, states[adapter], folder, stored, name)
            embeds[name] = stored
    return embeds


@contextmanager
def loaded_ip_adapters(pipe: Any, states: Sequence[AdapterState]) -> Iterator[None]:
    """Load ``states`` for a render; afterwards unload them and put back the processors
    (and the feature extractor) the pipeline had before."""
    if not states:
        yield
        return
    processors = pipe.unet.attn_processors
    extractor = getattr(pipe, "feature_extractor", None)
    try:
        with quiet_diffusers():
            pipe.load_ip_adapter(
                list(states),
                subfolder=[""] * len(states),
                weight_name=[""] * len(states),
                image_encoder_folder=None,
            )
    except (KeyError, RuntimeError, ValueError) as error:
        restore_pipeline(pipe, processors, extractor)
        raise ValidationError(
            f"An IP-Adapter does not fit this model: {error}",
            "Use an sd15 adapter with SD 1.5 models and an sdxl one with SDXL models.",
        ) from error
    try:
        yield
    finally:
        restore_pipeline(pipe, processors, extractor)


@contextmanager
def quiet_diffusers() -> Iterator[None]:
    """diffusers' notes while loading (no image encoder loaded: we pass embeddings) are
    not for users; warnings that matter are raised as errors anyway."""
    library = logging.getLogger("diffusers")
    level = library.level
    library.setLevel(logging.ERROR)
    try:
        yield
    finally:
        library.setLevel(level)


def restore_pipeline(pipe: Any, processors: Mapping[str, Any], extractor: Any) -> None:
    """Unload any adapter and put back the processors and feature extractor of before.

    ``unload_ip_adapter`` rebuilds processors by calling their classes; the ones
    that were there (and their state) are set again instead.
    """
    if getattr(pipe.unet, "encoder_hid_proj", None) is not None:
        pipe.unload_ip_adapter()
    pipe.unet.set_attn_processor(dict(processors))
    if extractor is not None and getattr(pipe, "feature_extractor", None) is None:
        pipe.register_modules(feature_extractor=extractor)


def ip_adapter_key(job: IpAdapterJob | None) -> dict[str, object]:
    """The identity cache key's part for a character's adapter: none without one; a local
    file's with its content hash, since the identity pass reads the adapter's weights."""
    if job is None:
        return {}
    digest = local_adapter_digest(job.adapter)
    record = job.record() if digest is None else {**job.record(), "digest": digest}
    return {"ip_adapter": record}
