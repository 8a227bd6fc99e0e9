"""LoRAs on a loaded pipeline for one render, through diffusers' adapter API (peft).

Every LoRA of the request is loaded once as a named adapter when the render
starts and unloaded when it ends, so the warm pipeline goes back to its own
layers. Before each pipeline call only the adapters of that pass are
switched on, at their scales: the project's everywhere, a character's in its
identity pass and in the panels that name it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from storyboard_app.engine.render_request import LoraJob
from storyboard_app.project.errors import ValidationError


def adapter_name(lora: LoraJob) -> str:
    """A peft adapter name (no dots) that differs for every file and LoRA name."""
    return "lora_" + lora.digest[:16] + "_" + "".join(c if c.isalnum() else "_" for c in lora.name)


@contextmanager
def loaded_loras(pipe: Any, loras: Sequence[LoraJob]) -> Iterator[None]:
    """Load ``loras`` as adapters for the duration of a render; remove them afterwards."""
    if not loras:
        yield
        return
    # peft freezes the model's own weights (requires_grad off); some CPU kernels take
    # another path for frozen weights, so a panel without LoRA, in this render or a
    # later one, would round differently. The flags are put back at once and after.
    flags = gradient_flags(pipe)
    try:
        for lora in loras:
            load_one(pipe, lora)
        restore_gradient_flags(flags)
        yield
    finally:
        pipe.unload_lora_weights()
        restore_gradient_flags(flags)


def gradient_flags(pipe: Any) -> list[tuple[Any, bool]]:
    """Each parameter of the pipeline's models with its ``requires_grad``."""
    models = [getattr(pipe, name, None) for name in ("unet", "text_encoder", "text_encoder_2")]
    return [
        (parameter, parameter.requires_grad)
        for model in models
        if model is not None
        for parameter in model.parameters()
    ]


def restore_gradient_flags(flags: Sequence[tuple[Any, bool]]) -> None:
    for parameter, requires_grad in flags:
        parameter.requires_grad_(requires_grad)


def load_one(pipe: Any, lora: LoraJob) -> None:
    """Load one LoRA file, or say clearly why it cannot be used."""
    if not lora.path.is_file():
        raise ValidationError(
            f"The LoRA file of {lora.name!r} is missing: {lora.path}.",
            "Put the file back, or remove the LoRA (storyboard lora remove).",
        )
    try:
        pipe.load_lora_weights(str(lora.path), adapter_name=adapter_name(lora))
    except ImportError as error:
        raise ValidationError(
            "Rendering with LoRAs needs the peft package.", "Install it: pip install peft"
        ) from error
    except (ValueError, KeyError, RuntimeError) as error:
        raise ValidationError(
            f"The LoRA {lora.name!r} does not fit this model: {error}",
            "Use a LoRA trained for this model's architecture (SDXL or SD 1.5).",
        ) from error


def activate(pipe: Any, all_loras: Sequence[LoraJob], active: Sequence[LoraJob]) -> None:
    """Switch on exactly ``active`` at their scales (nothing when it is empty)."""
    if not all_loras:
        return
    if not active:
        pipe.disable_lora()
        return
    pipe.enable_lora()
    pipe.set_adapters(
        [adapter_name(lora) for lora in active], adapter_weights=[lora.scale for lora in active]
    )


def lora_key(active: Sequence[LoraJob]) -> dict[str, object]:
    """The identity cache key's part for the LoRAs of a pass: none when there are none."""
    return {"loras": [lora.record() for lora in active]} if active else {}
