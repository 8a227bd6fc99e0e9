"""The parts of a generated transition, where they come from, and loading them together.

A generated transition is AnimateDiff on an SD 1.5 base: a ``MotionAdapter``
adds temporal layers to the UNet, a SparseCtrl RGB ``SparseControlNetModel``
holds the first and last frames to the two panels, and an IP-Adapter feeds
each frame the CLIP image embedding the motion predictor made for it. Each
part is published separately, so :class:`MotionSources` names each one;
every source follows the engine's rules (local folder or file, or a hub id
already in the local cache; pickles refused; nothing downloaded).

SDXL projects get AnimateDiff SDXL (``architecture="sdxl"``): the SDXL motion
adapter (beta) on the project's own SDXL model, with the SDXL IP-Adapter
(ViT-H, so the same image encoder and predictor). No SparseCtrl model exists
for SDXL, so the ends are held to the panels the other way: the two panels'
latents replace the first and last frames at every step, noised to the
step's level (see ``generated``). :func:`sources_for_model` picks the family
from the panels' model, so a transition matches the pictures it joins.

The UNet's IP-Adapter image projection is taken out of the UNet and kept
here: diffusers' UNet repeats one image embedding per video across all
frames, while a transition needs a different embedding per frame, so the
generation loop projects per-frame embeddings itself (see ``generated``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AnimateDiffSDXLPipeline,
    AnimateDiffSparseControlNetPipeline,
    DDIMScheduler,
    MotionAdapter,
    SparseControlNetModel,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from storyboard_app.engine.devices import choose_device, choose_dtype, translate_oom
from storyboard_app.engine.errors import ModelLoadError, ModelNotFoundError, UnsupportedModelError
from storyboard_app.engine.loading import (
    LowVramOptions,
    ModelSource,
    detect_architecture,
    load_text_to_image_pipeline,
    locate_model,
)
from storyboard_app.engine.models.catalogue import entries_for
from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.engine.motion.encoder import (
    DEFAULT_ENCODER_SOURCE,
    ClipImageEncoder,
    load_image_encoder,
)
from storyboard_app.engine.motion.predictor import (
    PredictorConfig,
    SemanticMotionPredictor,
    load_predictor,
    read_safetensors,
)
from storyboard_app.engine.motion.sources import require_safetensors_folder, resolve_component
from storyboard_app.project.errors import StoryboardError

TINY_MOTION_SOURCE = "tiny"
TINY_SDXL_MOTION_SOURCE = "tiny-sdxl"  # tiny random AnimateDiff SDXL parts (tests)
SD15_BASE = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"
SDXL_MOTION_ADAPTER = "guoyww/animatediff-motion-adapter-sdxl-beta"
SDXL_IP_ADAPTER = "h94/IP-Adapter/sdxl_models/ip-adapter_sdxl_vit-h.safetensors"
ARCHITECTURES = ("sd15", "sdxl")
# Panel models that say nothing about a family: the defaults (SD 1.5) are used.
_UNDECIDED_MODELS = ("", "tiny", "tiny-sd15", "tiny-sdxl")
# The untrained predictor returns the slerp whatever its size; keep it small.
UNTRAINED_PREDICTOR = {"width": 64, "layers": 1, "heads": 4}
_IP_ADAPTER_HINT = (
    "Use a base IP-Adapter for SD 1.5 such as h94/IP-Adapter/models/ip-adapter_sd15.safetensors "
    "(the Plus and FaceID variants read other image features than the predictor makes)."
)


@dataclass(frozen=True)
class MotionSources:
    """Where each part of the motion model comes from.

    ``base`` is an SD 1.5 model, or an SDXL one with ``architecture="sdxl"``
    (hub id, diffusers folder or .safetensors checkpoint). The others are a
    local path or ``org/repo/path/in/repo``; SDXL has no ``sparse_ctrl``.
    An empty ``predictor`` uses the untrained predictor, whose path is the
    slerp of the two panels' embeddings. ``base="tiny"`` builds every part
    with tiny random weights (tests, trying the workflow).
    """

    base: str = SD15_BASE
    motion_adapter: str = "guoyww/animatediff-motion-adapter-v1-5-3"
    sparse_ctrl: str = "guoyww/animatediff-sparsectrl-rgb"
    ip_adapter: str = "h94/IP-Adapter/models/ip-adapter_sd15.safetensors"
    image_encoder: str = DEFAULT_ENCODER_SOURCE
    predictor: str = ""
    architecture: str = "sd15"

    @classmethod
    def for_sdxl(cls, base: str = SDXL_BASE) -> MotionSources:
        """The SDXL family's parts on ``base``: motion adapter (beta), IP-Adapter, no SparseCtrl."""
        return cls(
            base=base,
            motion_adapter=SDXL_MOTION_ADAPTER,
            sparse_ctrl="",
            ip_adapter=SDXL_IP_ADAPTER,
            architecture="sdxl",
        )

    @property
    def is_tiny(self) -> bool:
        return self.base == TINY_MOTION_SOURCE

    @property
    def is_sdxl(self) -> bool:
        return self.architecture == "sdxl"

    def record(self) -> dict[str, str]:
        """The sources as plain data, stored with a transition so it can be reproduced."""
        return dataclasses.asdict(self)


@dataclass
class MotionModel:
    """Everything a generated transition needs, on one device.

    ``pipe`` is an AnimateDiff SparseCtrl pipeline with an IP-Adapter loaded;
    its UNet's image projection lives in ``image_projection`` instead (see the
    module docstring).
    """

    pipe: AnimateDiffSparseControlNetPipeline | AnimateDiffSDXLPipeline
    image_projection: nn.Module
    encoder: ClipImageEncoder
    predictor: SemanticMotionPredictor
    sources: MotionSources

    @property
    def device(self) -> torch.device:
        return self.pipe.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.pipe.unet.dtype

    @property
    def is_sdxl(self) -> bool:
        return isinstance(self.pipe, AnimateDiffSDXLPipeline)

    @property
    def holds_ends_with_keyframes(self) -> bool:
        """SparseCtrl holds the ends (SD 1.5); else the panels' latents replace them (SDXL)."""
        return getattr(self.pipe, "controlnet", None) is not None

    @property
    def max_frames(self) -> int:
        """Most frames the motion module's position encoding covers."""
        return int(self.pipe.motion_adapter.config.motion_max_seq_length)

    def to(self, device: str | torch.device, dtype: torch.dtype) -> MotionModel:
        """Move every part (in place) and return the model; the predictor stays in fp32."""
        self.pipe.to(device, dtype)
        if self.is_sdxl and dtype == torch.float16 and self.pipe.vae.config.force_upcast:
            self.pipe.vae.to(torch.float32)  # SDXL's VAE overflows in fp16, as in its pipeline
        self.image_projection.to(device, dtype)
        self.encoder.to(device, dtype)
        self.predictor.to(device, torch.float32)
        return self


def load_motion_model(
    sources: MotionSources = MotionSources(),
    *,
    device: str | None = None,
    dtype: str | None = None,
) -> MotionModel:
    """Load every part named by ``sources`` onto one device; checks run before weights are read."""
    device_name = choose_device(device)
    torch_dtype = choose_dtype(device_name, dtype)
    if sources.is_tiny:
        return _tiny_model(sources).to(device_name, torch_dtype)
    check_motion_sources(sources)
    ip_adapter_path = _ip_adapter_path(sources.ip_adapter)
    adapter_folder = _model_folder(sources.motion_adapter, "motion adapter")
    control_folder = (
        None if sources.is_sdxl else _model_folder(sources.sparse_ctrl, "SparseCtrl model")
    )
    with translate_oom():
        base = _load_base(sources, device_name, dtype)
        adapter = _load_model(MotionAdapter, adapter_folder, torch_dtype, "motion adapter")
        encoder = load_image_encoder(sources.image_encoder, device=device_name, dtype=dtype)
        predictor = _predictor(sources.predictor, encoder.embed_dim)
        ip_adapter = read_ip_adapter(ip_adapter_path)
        if control_folder is None:
            model = assemble_sdxl_motion_model(
                base, adapter, ip_adapter, encoder, predictor, sources
            )
        else:
            control = _load_model(
                SparseControlNetModel, control_folder, torch_dtype, "SparseCtrl model"
            )
            model = assemble_motion_model(
                base, adapter, control, ip_adapter, encoder, predictor, sources
            )
        return model.to(device_name, torch_dtype)


def sources_for_model(model_source: str, **given: str) -> MotionSources:
    """The motion parts that match panels rendered with ``model_source``, with ``given`` ones.

    An SDXL panel model gets the SDXL family on that same model; an SD 1.5 one
    the SD 1.5 family on it (finetunes included). A model that cannot be looked
    at (none, the tiny test models, not downloaded) gets the SD 1.5 defaults.
    ``given`` (a field name each, ``base`` included) overrides any part.
    """
    explicit = given.pop("base", "").strip()
    if explicit in (TINY_MOTION_SOURCE, TINY_SDXL_MOTION_SOURCE):
        family = "sdxl" if explicit == TINY_SDXL_MOTION_SOURCE else "sd15"
        tiny = MotionSources(base=TINY_MOTION_SOURCE, architecture=family)
        return dataclasses.replace(tiny, **given)
    base = explicit or model_source.strip()
    family = _family_of(base)
    if family == "sdxl":
        chosen = MotionSources.for_sdxl(base)
    elif family == "sd15" or explicit:
        chosen = MotionSources(
            base=base
        )  # an explicit one that cannot be read: pre-flight names it
    else:
        chosen = MotionSources()
    return dataclasses.replace(chosen, **given)


def _family_of(source: str) -> str | None:
    """``sdxl`` or ``sd15`` from the model's configs or header; None when it cannot be read."""
    if source in _UNDECIDED_MODELS:
        return None
    try:
        return str(detect_architecture(ModelSource.parse(source)))
    except StoryboardError:
        return None


def check_motion_sources(sources: MotionSources) -> None:
    """Pre-flight: raise one error naming every missing part and the command that gets them.

    Runs before a generated transition starts, so a first run with an empty
    cache learns all it needs at once instead of one part per attempt. Only
    absence is collected; any other problem with a part (a pickle) is raised as is.
    """
    check_architecture(sources)
    if sources.is_tiny:
        return
    missing: list[tuple[str, str, ModelNotFoundError]] = []
    for what, source, locate in _motion_parts(sources):
        try:
            locate(source, what)
        except ModelNotFoundError as absent:
            missing.append((what, source, absent))
    if missing:
        raise _missing_parts_error(missing)


def _motion_parts(sources: MotionSources) -> list[tuple[str, str, Any]]:
    """Each part with the check load_motion_model makes of it (safety included), in its order."""

    def base(source: str, what: str) -> Path:
        return locate_model(source)

    def ip_adapter(source: str, what: str) -> Path:
        return _ip_adapter_path(source)

    parts = [
        ("IP-Adapter", sources.ip_adapter, ip_adapter),
        ("motion adapter", sources.motion_adapter, _model_folder),
    ]
    if not sources.is_sdxl:
        parts.append(("SparseCtrl model", sources.sparse_ctrl, _model_folder))
    return [
        *parts,
        ("SDXL base" if sources.is_sdxl else "SD 1.5 base", sources.base, base),
        ("image encoder", sources.image_encoder, resolve_component),
    ]


def check_architecture(sources: MotionSources) -> None:
    """The family must be known, and SDXL has no SparseCtrl model to give it."""
    if sources.architecture not in ARCHITECTURES:
        raise UnsupportedModelError(
            f"{sources.architecture!r} is not a model family for generated transitions.",
            "Use sd15 or sdxl.",
        )
    if sources.is_sdxl and sources.sparse_ctrl:
        raise UnsupportedModelError(
            f"The SparseCtrl model {sources.sparse_ctrl} works with SD 1.5 only; an SDXL "
            "transition holds its ends to the panels without one.",
            "Leave the SparseCtrl model out for an SDXL base.",
        )


def _missing_parts_error(missing: list[tuple[str, str, ModelNotFoundError]]) -> ModelNotFoundError:
    names: list[str] = []
    others: list[str] = []
    for _, source, absent in missing:
        parts = source.split("/")
        found = entries_for("/".join(parts[:2]), "/".join(parts[2:]))
        if found and not any(entry.name in names for entry in found):
            names.append(found[0].name)  # one entry per part (the encoder comes with either)
        elif not found:
            others.append(f"{absent.message} {absent.hint}")
    listed = ", ".join(f"the {what} ({source})" for what, source, _ in missing)
    message = (
        "A generated transition needs parts that are neither local files nor in the local "
        f"Hugging Face cache ({hub_cache_dir()}): {listed}."
    )
    message += "".join(f" {text}" for text in others)
    hint = f"Download them with `storyboard models download {' '.join(names)}`." if names else ""
    return ModelNotFoundError(message, hint or "Give local copies of those parts.")


def assemble_motion_model(
    base: StableDiffusionPipeline,
    adapter: MotionAdapter,
    control: SparseControlNetModel,
    ip_adapter: dict[str, dict[str, torch.Tensor]],
    encoder: ClipImageEncoder,
    predictor: SemanticMotionPredictor,
    sources: MotionSources,
) -> MotionModel:
    """Put loaded parts together: the video pipeline, the IP-Adapter, and the predictor."""
    check_embedding_widths(ip_adapter, encoder, predictor)
    pipe = AnimateDiffSparseControlNetPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=base.unet,
        motion_adapter=adapter,
        controlnet=control,
        scheduler=animatediff_scheduler(base.scheduler.config),
    )
    return _with_ip_adapter(pipe, ip_adapter, encoder, predictor, sources)


def assemble_sdxl_motion_model(
    base: StableDiffusionXLPipeline,
    adapter: MotionAdapter,
    ip_adapter: dict[str, dict[str, torch.Tensor]],
    encoder: ClipImageEncoder,
    predictor: SemanticMotionPredictor,
    sources: MotionSources,
) -> MotionModel:
    """AnimateDiff SDXL on ``base`` with the SDXL IP-Adapter; no SparseCtrl (see the module)."""
    check_embedding_widths(ip_adapter, encoder, predictor)
    pipe = AnimateDiffSDXLPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        text_encoder_2=base.text_encoder_2,
        tokenizer=base.tokenizer,
        tokenizer_2=base.tokenizer_2,
        unet=base.unet,
        motion_adapter=adapter,
        scheduler=animatediff_scheduler(base.scheduler.config),
    )
    return _with_ip_adapter(pipe, ip_adapter, encoder, predictor, sources)


def animatediff_scheduler(config: Any) -> DDIMScheduler:
    """DDIM with the settings AnimateDiff was trained with (linear betas, linspace timesteps)."""
    return DDIMScheduler.from_config(
        config,
        beta_schedule="linear",
        clip_sample=False,
        timestep_spacing="linspace",
        steps_offset=1,
    )


def _with_ip_adapter(
    pipe: Any,
    ip_adapter: dict[str, dict[str, torch.Tensor]],
    encoder: ClipImageEncoder,
    predictor: SemanticMotionPredictor,
    sources: MotionSources,
) -> MotionModel:
    """Load the IP-Adapter and take its image projection out of the UNet (module docstring)."""
    pipe.set_progress_bar_config(disable=True)
    pipe.load_ip_adapter(ip_adapter, subfolder="", weight_name="", image_encoder_folder=None)
    projection = pipe.unet.encoder_hid_proj
    pipe.unet.encoder_hid_proj = None
    return MotionModel(pipe, projection, encoder, predictor.eval(), sources)


def read_ip_adapter(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """An IP-Adapter .safetensors file as the nested dict diffusers loads (base kind only)."""
    tensors, _ = read_safetensors(path, "IP-Adapter")
    nested: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in tensors.items():
        group, _, name = key.partition(".")
        if group in nested:
            nested[group][name] = value
    if "proj.weight" not in nested["image_proj"] or not nested["ip_adapter"]:
        raise UnsupportedModelError(f"{path.name} is not a base IP-Adapter.", _IP_ADAPTER_HINT)
    return nested


def check_embedding_widths(
    ip_adapter: dict[str, dict[str, torch.Tensor]],
    encoder: ClipImageEncoder,
    predictor: SemanticMotionPredictor,
) -> None:
    """The encoder, the predictor and the IP-Adapter must share one embedding width."""
    adapter_width = int(ip_adapter["image_proj"]["proj.weight"].shape[1])
    widths = {
        "image encoder": encoder.embed_dim,
        "motion predictor": predictor.config.embed_dim,
        "IP-Adapter": adapter_width,
    }
    if len(set(widths.values())) > 1:
        listed = ", ".join(f"{name} {width}" for name, width in widths.items())
        raise UnsupportedModelError(
            f"The motion model's parts expect different image embedding widths ({listed}).",
            "Use the image encoder the IP-Adapter was made for, and a predictor trained with it "
            "(storyboard train-motion --encoder).",
        )


def _tiny_model(sources: MotionSources) -> MotionModel:
    """The tiny random model, with a trained predictor when one is named (trained with 'tiny')."""
    from storyboard_app.engine.transitions.tiny_motion import build_tiny_motion_model

    model = build_tiny_motion_model(architecture=sources.architecture)
    if sources.predictor:
        predictor = load_predictor(sources.predictor)
        if predictor.config.embed_dim != model.encoder.embed_dim:
            raise UnsupportedModelError(
                f"The motion predictor {sources.predictor} works on {predictor.config.embed_dim}-"
                f"wide embeddings; the tiny model's are {model.encoder.embed_dim}.",
                "Use a predictor trained with --encoder tiny.",
            )
        model.predictor = predictor.eval()
        model.sources = dataclasses.replace(model.sources, predictor=sources.predictor)
    return model


def _load_base(sources: MotionSources, device: str, dtype: str | None) -> Any:
    loaded = load_text_to_image_pipeline(
        sources.base,
        device=device,
        dtype=dtype,
        architecture=sources.architecture,
        low_vram=LowVramOptions(),
    )
    return loaded.pipe


def _model_folder(source: str, what: str) -> Path:
    folder = resolve_component(source, what)
    require_safetensors_folder(folder, what)
    return folder


def _load_model(model_class: type[ModelMixin], folder: Path, dtype: torch.dtype, what: str) -> Any:
    # A folder of fp16 weights only (``*.fp16.safetensors``) is the fp16 variant.
    plain = any(
        p.name.endswith(".safetensors") and ".fp16." not in p.name for p in folder.iterdir()
    )
    variant = None if plain else "fp16"
    try:
        return model_class.from_pretrained(
            str(folder), dtype=dtype, use_safetensors=True, local_files_only=True, variant=variant
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(
            f"The {what} in {folder} could not be loaded: {exc}",
            f"Give a diffusers {model_class.__name__} folder (config.json and .safetensors).",
        ) from exc


def _ip_adapter_path(source: str) -> Path:
    path = resolve_component(source, "IP-Adapter")
    if path.is_dir() or path.suffix.lower() != ".safetensors":
        raise UnsupportedModelError(
            f"The IP-Adapter {path} is not a .safetensors file.", _IP_ADAPTER_HINT
        )
    return path


def _predictor(source: str, embed_dim: int) -> SemanticMotionPredictor:
    if source:
        return load_predictor(source)
    return SemanticMotionPredictor(PredictorConfig(embed_dim=embed_dim, **UNTRAINED_PREDICTOR))
