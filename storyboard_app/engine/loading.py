"""Turn a model source (hub id, diffusers folder or .safetensors file) into a ready pipeline.

Everything that can be wrong with a source is checked before weights are read,
and every failure becomes a ModelLoadError whose hint names the fix. Loading
never touches the network: hub ids are read from the local Hugging Face cache,
and single files use the pipeline configs shipped in ``resources/``. Pickle
checkpoints are refused by name and never opened, because unpickling a file
runs whatever code it holds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import torch
from diffusers import (
    DDIMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from huggingface_hub import snapshot_download
from safetensors import SafetensorError, safe_open

from storyboard_app.engine.devices import (
    choose_device,
    choose_dtype,
    classify_cuda_oom,
    gpu_memory_gb,
    translate_oom,
    vram_preset,
)
from storyboard_app.engine.errors import (
    CorruptCheckpointError,
    ModelLoadError,
    ModelNotFoundError,
    NotAPipelineError,
    UnknownSchedulerError,
    UnsafeCheckpointError,
    UnsupportedModelError,
)
from storyboard_app.engine.models.catalogue import download_hint, needed_patterns
from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.grammar import with_article

logger = logging.getLogger(__name__)

Architecture = Literal["sdxl", "sd15"]
SourceKind = Literal["hub", "folder", "single_file"]

ARCHITECTURES: tuple[Architecture, ...] = ("sdxl", "sd15")
ARCHITECTURE_LABELS: Mapping[str, str] = {"sdxl": "SDXL", "sd15": "SD 1.5"}
PIPELINE_CLASS_NAMES: Mapping[str, Architecture] = {
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionPipeline": "sd15",
}
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"})
SAFETENSORS_SUFFIX = ".safetensors"
WEIGHTED_COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")
SCHEDULER_NAMES: tuple[str, ...] = (
    "euler",
    "euler_a",
    "dpmpp_2m",
    "dpmpp_2m_karras",
    "dpmpp_2m_sde",
    "ddim",
    "unipc",
)

_CHECKPOINT_SUFFIXES = PICKLE_SUFFIXES | {SAFETENSORS_SUFFIX}
_HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_UNET_PREFIX = "model.diffusion_model."
_INPAINT_KEY = "model.diffusion_model.input_blocks.0.0.weight"
_HINT_SUPPORTED = "Use an SDXL or SD 1.5 text-to-image model."
_HINT_DAMAGED = "The folder is damaged; download or copy the model again."
_MAX_JSON_BYTES = 50_000_000
_MAX_PROMPT_TOKENS = 4096
_UNLOADED_COMPONENTS = frozenset({"safety_checker"})  # see _pipeline_extras
_HINT_CONVERT = (
    "Convert it to .safetensors with a trusted tool first, or download the "
    ".safetensors version, which most model pages offer."
)


BUNDLED_MODELS: Mapping[str, str] = MappingProxyType(
    {"toy": "a toy-world model trained in this repository (64 px creatures, not a real model)"}
)
"""Models shipped in ``resources/models/<name>``, usable by name (``--model toy``)."""


def bundled_model_folder(name: str) -> Path:
    """The shipped folder of the bundled model ``name``; raises if it is not installed."""
    folder = resources_dir() / "models" / name
    if not (folder / "model_index.json").is_file():
        raise ModelNotFoundError(
            f"The bundled {name} model is not installed (looked in {folder}).",
            "Reinstall the app, or in a checkout train it with "
            "python -m storyboard_app.engine.toyworld.train --out resources/models/toy.",
        )
    return folder


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a hub id, a local diffusers folder, or one .safetensors file.

    ``location`` is the hub id, or the absolute path of the folder or file.
    """

    kind: SourceKind
    location: str

    @classmethod
    def parse(cls, text: str) -> ModelSource:
        """Classify ``text`` without reading any weights; raise if it cannot be a model.

        A path that exists wins over a hub id or a bundled model's name of the
        same spelling, so a local folder named like ``org/model`` is used as a folder.
        """
        cleaned = text.strip()
        if not cleaned:
            raise ModelNotFoundError(
                "No model was given.",
                "Name a hub id such as stabilityai/stable-diffusion-xl-base-1.0, "
                "a diffusers folder, or a .safetensors file.",
            )
        path = Path(cleaned).expanduser()
        if path.exists():
            return cls._from_existing_path(path.resolve())
        if cleaned in BUNDLED_MODELS:
            return cls("folder", str(bundled_model_folder(cleaned)))
        if _HUB_ID_PATTERN.match(cleaned) and path.suffix.lower() not in _CHECKPOINT_SUFFIXES:
            return cls("hub", cleaned)
        raise ModelNotFoundError(
            f"The model file or folder {path} does not exist.",
            "Check the path, or give a hub id such as stabilityai/stable-diffusion-xl-base-1.0.",
        )

    @classmethod
    def _from_existing_path(cls, path: Path) -> ModelSource:
        if path.is_dir():
            return cls("folder", str(path))
        suffix = path.suffix.lower()
        if suffix in PICKLE_SUFFIXES:
            raise UnsafeCheckpointError(
                f"{path.name} is a pickle checkpoint ({suffix}), which can run code when "
                "opened, so it is not loaded.",
                _HINT_CONVERT,
            )
        if suffix != SAFETENSORS_SUFFIX:
            raise NotAPipelineError(
                f"{path.name} is not a model file.",
                "Give a .safetensors checkpoint, a diffusers folder (with model_index.json) "
                "or a hub id.",
            )
        return cls("single_file", str(path))

    def __str__(self) -> str:
        return self.location


@dataclass(frozen=True)
class LowVramOptions:
    """Memory savers for small GPUs; each costs some speed.

    ``cpu_offload`` keeps only the model that is running on the GPU (needs a
    CUDA or other accelerator; ignored on CPU). ``vae_slicing`` decodes one
    image at a time, ``vae_tiling`` decodes large images in tiles.
    """

    cpu_offload: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False

    @classmethod
    def for_preset(cls, preset: str) -> LowVramOptions:
        """Options for a GPU memory class from ``devices.vram_preset``: low, medium or high."""
        if preset == "low":
            return cls(cpu_offload=True, vae_slicing=True, vae_tiling=True)
        if preset == "medium":
            return cls(vae_slicing=True, vae_tiling=True)
        return cls()


@dataclass(frozen=True)
class LoadedPipeline:
    """A pipeline on its device, with what is needed to describe and reproduce it.

    ``scheduler_config`` is the model's own scheduler config, kept so that
    switching schedulers never inherits options from the previous choice.
    """

    pipe: DiffusionPipeline
    architecture: Architecture
    device: str
    dtype: torch.dtype
    source: ModelSource
    scheduler: str
    low_vram: LowVramOptions
    scheduler_config: Mapping[str, Any] = field(repr=False)


def load_text_to_image_pipeline(
    source: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    scheduler: str = "euler",
    low_vram: LowVramOptions | None = None,
    architecture: str | None = None,
    config_dir: str | Path | None = None,
) -> LoadedPipeline:
    """Load an SDXL or SD 1.5 text-to-image pipeline from ``source``, offline.

    ``device`` and ``dtype`` default to the best available (see ``devices``).
    ``low_vram=None`` picks options from the GPU's memory size; pass
    ``LowVramOptions()`` for none. ``architecture`` ("sdxl" or "sd15") overrides
    detection. ``config_dir`` is the diffusers config folder used for a single
    file instead of the shipped one (tests use it for tiny checkpoints).
    Arguments are checked before any weights are read.
    """
    scheduler_spec(scheduler)
    device_name = choose_device(device)
    torch_dtype = choose_dtype(device_name, dtype)
    parsed = ModelSource.parse(source)
    forced = None if architecture is None else _check_architecture_name(architecture)
    with translate_oom():
        pipe, arch = _load_pipeline(parsed, torch_dtype, forced, config_dir)
        scheduler_config = MappingProxyType(dict(pipe.scheduler.config))
        pipe.scheduler = make_scheduler(scheduler, scheduler_config)
        options = low_vram if low_vram is not None else _automatic_low_vram(device_name)
        applied = place_on_device(pipe, device_name, options)
    pipe.set_progress_bar_config(disable=True)
    return LoadedPipeline(
        pipe=pipe,
        architecture=arch,
        device=device_name,
        dtype=torch_dtype,
        source=parsed,
        scheduler=scheduler,
        low_vram=applied,
        scheduler_config=scheduler_config,
    )


def locate_model(text: str) -> Path:
    """The folder or file the model ``text`` is on disk; raises ModelNotFoundError if not here.

    Reads no weights: a pre-flight check that a job's models are all present.
    """
    return _source_folder(ModelSource.parse(text))


def detect_architecture(source: ModelSource) -> Architecture:
    """Tell whether ``source`` is SDXL or SD 1.5 by reading only configs or file headers."""
    if source.kind == "single_file":
        return architecture_from_checkpoint(Path(source.location))
    return architecture_from_folder(_source_folder(source))


def architecture_from_folder(folder: Path) -> Architecture:
    """Architecture of a diffusers folder, from the pipeline class in its model_index.json."""
    class_name = _read_model_index(folder).get("_class_name", "")
    arch = PIPELINE_CLASS_NAMES.get(class_name)
    if arch is None:
        raise UnsupportedModelError(
            f"{folder} holds {with_article(str(class_name or 'unnamed'))} pipeline, which the "
            "storyboard cannot render.",
            _HINT_SUPPORTED,
        )
    return arch


def architecture_from_checkpoint(path: Path) -> Architecture:
    """Architecture of an original-layout checkpoint, from its tensor names (header only)."""
    keys, inpainting = _read_checkpoint_header(path)
    return architecture_from_checkpoint_keys(keys, inpainting=inpainting, name=path.name)


def architecture_from_checkpoint_keys(
    keys: Collection[str], *, inpainting: bool = False, name: str = "The checkpoint"
) -> Architecture:
    """Architecture from tensor names in the original (ldm/sgm) layout.

    SDXL checkpoints have two text encoders under ``conditioner.embedders``
    (the second, OpenCLIP bigG, at index 1); SD 1.5 has one CLIP under
    ``cond_stage_model.transformer``. SD 2 (OpenCLIP under
    ``cond_stage_model.model``) and the SDXL refiner are recognised to refuse
    them by name.
    """
    prefixes = {".".join(key.split(".")[:3]) for key in keys}
    if not any(key.startswith(_UNET_PREFIX) for key in keys):
        raise NotAPipelineError(
            f"{name} holds no UNet, so it is not a full model checkpoint "
            "(it may be a LoRA, a VAE or a single component).",
            "Give a full SDXL or SD 1.5 checkpoint, the kind that model pages list as "
            "'checkpoint'.",
        )
    if inpainting:
        raise UnsupportedModelError(f"{name} is an inpainting model.", _HINT_SUPPORTED)
    if "conditioner.embedders.1" in prefixes:
        return "sdxl"
    if "conditioner.embedders.0" in prefixes:
        raise UnsupportedModelError(f"{name} is an SDXL refiner.", _HINT_SUPPORTED)
    if "cond_stage_model.transformer.text_model" in prefixes:
        return "sd15"
    if "cond_stage_model.model.transformer" in prefixes:
        raise UnsupportedModelError(f"{name} is a Stable Diffusion 2 model.", _HINT_SUPPORTED)
    raise UnsupportedModelError(
        f"{name} is not an SDXL or SD 1.5 checkpoint (no known text encoder).",
        _HINT_SUPPORTED,
    )


def pipeline_config_dir(architecture: str) -> Path:
    """Shipped diffusers configs (json and tokenizer files, no weights) of an architecture.

    ``from_single_file`` needs them to build the pipeline around a checkpoint;
    without them diffusers would fetch them from the hub.
    """
    folder = resources_dir() / "pipeline_configs" / _check_architecture_name(architecture)
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"The shipped pipeline configs are missing from {folder}.",
            "Reinstall the app; the resources folder is incomplete.",
        )
    return folder


def scheduler_spec(name: str) -> tuple[type[SchedulerMixin], dict[str, Any]]:
    """Scheduler class and the config overrides that define the scheduler called ``name``.

    Overrides are complete for each name (Karras sigmas on or off, solver
    order) so a scheduler never keeps a setting from the one before it.
    """
    if name == "euler":
        return EulerDiscreteScheduler, {"use_karras_sigmas": False}
    if name == "euler_a":
        return EulerAncestralDiscreteScheduler, {}
    if name in ("dpmpp_2m", "dpmpp_2m_karras", "dpmpp_2m_sde"):
        return DPMSolverMultistepScheduler, {
            "algorithm_type": "sde-dpmsolver++" if name == "dpmpp_2m_sde" else "dpmsolver++",
            "solver_order": 2,
            "use_karras_sigmas": name == "dpmpp_2m_karras",
        }
    if name == "ddim":
        return DDIMScheduler, {}
    if name == "unipc":
        return UniPCMultistepScheduler, {}
    raise UnknownSchedulerError(
        f"'{name}' is not a known scheduler.",
        "Use one of: " + ", ".join(SCHEDULER_NAMES) + ".",
    )


def make_scheduler(name: str, base_config: Mapping[str, Any]) -> SchedulerMixin:
    """Build the scheduler called ``name`` from a model's own scheduler config."""
    scheduler_class, overrides = scheduler_spec(name)
    return scheduler_class.from_config(dict(base_config), **overrides)


def set_scheduler(loaded: LoadedPipeline, name: str) -> LoadedPipeline:
    """Switch the scheduler of a loaded pipeline; returns the updated description."""
    loaded.pipe.scheduler = make_scheduler(name, loaded.scheduler_config)
    return replace(loaded, scheduler=name)


def place_on_device(
    pipe: DiffusionPipeline, device: str, options: LowVramOptions
) -> LowVramOptions:
    """Move ``pipe`` to ``device`` with the memory savers that apply there; return those used.

    Model CPU offload needs an accelerator and raises without one, so it is
    only tried on a GPU and replaced by a plain move if it fails.
    """
    offloaded = (
        options.cpu_offload and torch.device(device).type != "cpu" and _try_offload(pipe, device)
    )
    if not offloaded:
        pipe.to(device)
    if options.vae_slicing:
        pipe.vae.enable_slicing()
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    return LowVramOptions(
        cpu_offload=offloaded, vae_slicing=options.vae_slicing, vae_tiling=options.vae_tiling
    )


def _try_offload(pipe: DiffusionPipeline, device: str) -> bool:
    try:
        pipe.enable_model_cpu_offload(device=device)
    except (RuntimeError, ValueError, ImportError) as exc:
        if classify_cuda_oom(exc) is not None:
            raise
        logger.warning("Model CPU offload is not available here (%s); loading fully.", exc)
        return False
    return True


def _automatic_low_vram(device: str) -> LowVramOptions:
    gb = gpu_memory_gb(device) if torch.device(device).type != "cpu" else None
    return LowVramOptions() if gb is None else LowVramOptions.for_preset(vram_preset(gb))


def _check_architecture_name(architecture: str) -> Architecture:
    if architecture not in ARCHITECTURES:
        raise UnsupportedModelError(
            f"'{architecture}' is not a known architecture.",
            "Use sdxl or sd15, or leave it out to detect it from the model.",
        )
    return cast(Architecture, architecture)


def _load_pipeline(
    source: ModelSource,
    dtype: torch.dtype,
    forced: Architecture | None,
    config_dir: str | Path | None,
) -> tuple[DiffusionPipeline, Architecture]:
    if source.kind == "single_file":
        return _load_single_file(Path(source.location), dtype, forced, config_dir)
    return _load_folder(_source_folder(source), dtype, forced)


def _source_folder(source: ModelSource) -> Path:
    if source.kind == "hub":
        return _cached_snapshot(source.location)
    return Path(source.location)


def _cached_snapshot(repo_id: str) -> Path:
    cache = hub_cache_dir()
    try:
        patterns = needed_patterns(repo_id)
        folder = snapshot_download(
            repo_id, cache_dir=cache, local_files_only=True, allow_patterns=patterns
        )
        return Path(folder)
    except (OSError, ValueError):
        raise ModelNotFoundError(
            f"{repo_id} is neither a local folder nor a model in the local Hugging Face "
            f"cache ({cache}); models are never downloaded while rendering.",
            f"{download_hint(repo_id)} Or point to a local diffusers folder or a "
            ".safetensors file.",
        ) from None


def _read_model_index(folder: Path) -> dict[str, Any]:
    index = folder / "model_index.json"
    if not index.is_file():
        raise NotAPipelineError(
            f"{folder} is not a diffusers pipeline folder.", _not_pipeline_hint(folder)
        )
    data = _read_json(index)
    if not isinstance(data, dict):
        raise NotAPipelineError(
            f"{index} holds a JSON {_json_kind(data)}, not the object that describes a pipeline.",
            _HINT_DAMAGED,
        )
    class_name = data.get("_class_name", "")
    if not isinstance(class_name, str):
        raise NotAPipelineError(
            f"{index} names a JSON {_json_kind(class_name)} as its pipeline class, "
            "not a class name.",
            _HINT_DAMAGED,
        )
    for key, entry in data.items():
        if key.startswith("_") or not (key in WEIGHTED_COMPONENTS or isinstance(entry, list)):
            continue
        if entry is not None and not _is_component_entry(entry):
            raise NotAPipelineError(
                f"{index} describes its {key} component as {_short_json(entry)}, "
                'not as ["library", "ClassName"].',
                _HINT_DAMAGED,
            )
    return data


def _is_component_entry(entry: object) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and all(item is None or isinstance(item, str) for item in entry)
    )


def _read_json(path: Path) -> object:
    """Parse a small JSON file of a model folder; every way it can be bad is a NotAPipelineError."""
    try:
        if path.stat().st_size > _MAX_JSON_BYTES:
            raise NotAPipelineError(
                f"{path} is {path.stat().st_size // 1_000_000} MB, far larger than a "
                f"model config (at most {_MAX_JSON_BYTES // 1_000_000} MB).",
                _HINT_DAMAGED,
            )
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise NotAPipelineError(
            f"{path} is nested too deeply to be a model config.", _HINT_DAMAGED
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise NotAPipelineError(f"{path} cannot be read ({exc}).", _HINT_DAMAGED) from None


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _short_json(value: object) -> str:
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = _json_kind(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_pipeline_hint(folder: Path) -> str:
    if (folder / "config.json").is_file() and (folder.parent / "model_index.json").is_file():
        return f"This is one component of a pipeline; give its parent folder {folder.parent}."
    checkpoints = sorted(folder.glob(f"*{SAFETENSORS_SUFFIX}"))
    if len(checkpoints) == 1:
        return f"To load the checkpoint in it, give the file itself: {checkpoints[0]}."
    return (
        "Give the folder that holds model_index.json (the diffusers format), "
        "a .safetensors checkpoint, or a hub id."
    )


def _load_folder(
    folder: Path, dtype: torch.dtype, forced: Architecture | None
) -> tuple[DiffusionPipeline, Architecture]:
    arch = architecture_from_folder(folder)
    if forced is not None and forced != arch:
        raise UnsupportedModelError(
            f"{folder} is an {ARCHITECTURE_LABELS[arch]} pipeline, not "
            f"{ARCHITECTURE_LABELS[forced]}.",
            "Leave the architecture out to detect it from the folder.",
        )
    variant = _check_folder_weights(folder, _read_model_index(folder))
    pipeline_class = _pipeline_class(arch)
    with _library_errors(str(folder)):
        pipe = pipeline_class.from_pretrained(
            str(folder),
            dtype=dtype,
            use_safetensors=True,
            local_files_only=True,
            variant=variant,
            **_pipeline_extras(arch),
        )
    _check_required_components(pipe, folder)
    _check_tokenizer_lengths(pipe, folder)
    return pipe, arch


_REQUIRED_COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
_REQUIRED_SDXL_COMPONENTS = ("text_encoder_2", "tokenizer_2")


def _check_required_components(pipe: DiffusionPipeline, folder: Path) -> None:
    """Refuse a pipeline that loaded without a part every panel needs.

    diffusers loads a model_index.json that leaves out, say, the text encoder
    (some components are optional for refiners), and the render then fails deep
    in the UNet with a shape error; name the missing part instead.
    """
    names = _REQUIRED_COMPONENTS
    if hasattr(pipe, "text_encoder_2"):
        names += _REQUIRED_SDXL_COMPONENTS
    missing = [name for name in names if getattr(pipe, name, None) is None]
    if missing:
        raise NotAPipelineError(
            f"{folder / 'model_index.json'} names no {', '.join(missing)}, which every "
            "panel needs.",
            _HINT_DAMAGED,
        )


def _check_tokenizer_lengths(pipe: DiffusionPipeline, folder: Path) -> None:
    """Refuse tokenizers without a usable prompt length before any render uses them.

    A missing or damaged tokenizer_config.json leaves transformers' "very large"
    placeholder as ``model_max_length``, which only fails (OverflowError) while
    the first prompt is encoded, after the project was already opened for a render.
    """
    for name in ("tokenizer", "tokenizer_2"):
        length = getattr(getattr(pipe, name, None), "model_max_length", None)
        if length is None:
            continue
        if not isinstance(length, int) or not 0 < length <= _MAX_PROMPT_TOKENS:
            raise NotAPipelineError(
                f"{folder / name / 'tokenizer_config.json'} gives {_short_json(length)} as "
                f"the prompt length (model_max_length), not a length such as 77.",
                _HINT_DAMAGED,
            )


def _check_folder_weights(folder: Path, model_index: Mapping[str, Any]) -> str | None:
    """Refuse a folder whose weights are pickles only; return the variant to load, if any.

    diffusers would fall back to pickled ``.bin`` files, so this check runs
    before it, together with ``use_safetensors=True``. A folder holding only
    ``*.fp16.safetensors`` files needs ``variant="fp16"``.
    """
    variant: str | None = None
    for name, entry in model_index.items():
        if name.startswith("_") or not isinstance(entry, list) or entry[0] is None:
            continue
        if name in _UNLOADED_COMPONENTS:
            continue
        if not (folder / name).is_dir():
            raise NotAPipelineError(
                f"{folder / 'model_index.json'} names a {name} component, but {folder} has "
                f"no {name} folder.",
                "The download is incomplete; download or copy the whole model folder again.",
            )
        refuse_pickled_shards(folder, name)
        if name not in WEIGHTED_COMPONENTS:
            _refuse_pickle_only_component(folder, name)
            continue
        weights = sorted((folder / name).glob(f"*{SAFETENSORS_SUFFIX}"))
        if not weights:
            _raise_missing_weights(folder, name)
        if all(path.name.endswith(f".fp16{SAFETENSORS_SUFFIX}") for path in weights):
            variant = "fp16"
    return variant


def refuse_pickled_shards(folder: Path, component: str) -> None:
    """Refuse a sharded component whose safetensors index names a shard that is not safetensors.

    diffusers and transformers load each shard by its own suffix, so a ``.bin``
    shard named in ``*.safetensors.index.json`` would be unpickled despite
    ``use_safetensors=True``.
    """
    for index in sorted((folder / component).glob(f"*{SAFETENSORS_SUFFIX}.index.json")):
        data = _read_json(index)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict):
            raise NotAPipelineError(f"{index} has no weight_map of shards.", _HINT_DAMAGED)
        for shard in weight_map.values():
            if not isinstance(shard, str) or "/" in shard or "\\" in shard:
                raise NotAPipelineError(
                    f"{index} names {_short_json(shard)} as a shard, which is not a file "
                    "name in its folder.",
                    _HINT_DAMAGED,
                )
            suffix = Path(shard).suffix.lower()
            if suffix == SAFETENSORS_SUFFIX:
                continue
            if suffix in PICKLE_SUFFIXES:
                raise UnsafeCheckpointError(
                    f"The {component} weights in {folder} include a pickle shard ({shard}), "
                    "which can run code when opened, so the model is not loaded.",
                    _HINT_CONVERT,
                )
            raise NotAPipelineError(
                f"{index} names {shard} as a shard, which is not a .safetensors file.",
                _HINT_DAMAGED,
            )


def _refuse_pickle_only_component(folder: Path, component: str) -> None:
    part = folder / component
    if part.is_dir() and not any(part.glob(f"*{SAFETENSORS_SUFFIX}")):
        _raise_if_pickles(folder, component)


def _raise_missing_weights(folder: Path, component: str) -> None:
    _raise_if_pickles(folder, component)
    raise NotAPipelineError(
        f"The {component} folder of {folder} has no weights.",
        "The download is incomplete; download the model again (hf download ID).",
    )


def _raise_if_pickles(folder: Path, component: str) -> None:
    pickles = [p for p in (folder / component).glob("*") if p.suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise UnsafeCheckpointError(
            f"The {component} weights in {folder} are pickle files ({pickles[0].name}), which "
            "can run code when opened, so they are not loaded.",
            _HINT_CONVERT,
        )


def _load_single_file(
    path: Path,
    dtype: torch.dtype,
    forced: Architecture | None,
    config_dir: str | Path | None,
) -> tuple[DiffusionPipeline, Architecture]:
    arch = forced or architecture_from_checkpoint(path)
    config = Path(config_dir) if config_dir is not None else pipeline_config_dir(arch)
    pipeline_class = _pipeline_class(arch)
    with _library_errors(path.name):
        pipe = pipeline_class.from_single_file(
            str(path),
            config=str(config),
            local_files_only=True,
            dtype=dtype,
            **_pipeline_extras(arch),
        )
    return pipe, arch


def _read_checkpoint_header(path: Path) -> tuple[list[str], bool]:
    """Tensor names of a .safetensors file and whether it is an inpainting UNet.

    Only the header is read; safetensors also checks that the file is as long
    as the header says, which catches truncated downloads.
    """
    try:
        with safe_open(str(path), framework="pt") as checkpoint:
            keys = list(checkpoint.keys())
            inpainting = (
                _INPAINT_KEY in keys and checkpoint.get_slice(_INPAINT_KEY).get_shape()[1] == 9
            )
    except (SafetensorError, OSError) as exc:
        raise _corrupt_error(path.name, exc) from None
    return keys, inpainting


def _corrupt_error(name: str, exc: BaseException) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"{name} is not a readable .safetensors file ({exc}).",
        "The file is damaged or incomplete, or is another format renamed; download it again.",
    )


def _pipeline_class(arch: Architecture) -> type[DiffusionPipeline]:
    return StableDiffusionXLPipeline if arch == "sdxl" else StableDiffusionPipeline


def _pipeline_extras(arch: Architecture) -> dict[str, Any]:
    """Keyword arguments that leave out parts a storyboard does not use.

    SD 1.5's safety checker is a second 1.2 GB CLIP model that blacks out
    whole panels; the storyboard does not load it (SDXL has none).
    """
    if arch == "sd15":
        return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    return {}


@contextmanager
def _library_errors(what: str) -> Iterator[None]:
    """Turn the many exception types of diffusers/transformers loading into ModelLoadError.

    Out-of-memory errors pass through untouched for ``translate_oom``.
    """
    try:
        yield
    except SafetensorError as exc:
        raise _corrupt_error(what, exc) from None
    # A damaged config reaches the model constructors as any of these (an empty
    # ``block_out_channels`` is an IndexError in diffusers' VAE, for one).
    except (
        OSError,
        ValueError,
        LookupError,
        TypeError,
        AttributeError,
        ArithmeticError,
        AssertionError,
        RuntimeError,
    ) as exc:
        if classify_cuda_oom(exc) is not None:
            raise
        raise ModelLoadError(
            f"{what} could not be loaded: {exc}",
            "The model files may be incomplete or of an unsupported kind; "
            "download them again or try another model.",
        ) from exc
