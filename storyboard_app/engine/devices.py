"""Device and dtype choice, GPU memory size, and out-of-memory translation.

The artist should not have to know what fp16 or MPS is: the engine picks the
fastest device and a dtype that device handles well, and anything chosen by
hand is checked here, before a multi-gigabyte model is loaded onto it.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch

from storyboard_app.engine.errors import DeviceError, OutOfMemoryError

VramPreset = Literal["low", "medium", "high"]

LOW_VRAM_MAX_GB = 8.0
MEDIUM_VRAM_MAX_GB = 16.0

DTYPES_BY_NAME: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}

OOM_HINT = (
    "Try a smaller image size, the low-VRAM preset (model CPU offload and VAE tiling), "
    "or fewer identity images per character."
)
_OOM_MARKERS = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED")
_ALLOCATION_PATTERN = re.compile(r"Tried to allocate ([\d.]+ ?[KMGT]i?B)")


def choose_device(requested: str | None = None) -> str:
    """Return the device to render on: the one asked for, checked, or the best available.

    ``None`` or ``"auto"`` picks CUDA, then Apple's MPS, then the CPU, because
    each is several times faster than the next for diffusion.
    """
    if requested is None or requested.strip().lower() in ("", "auto"):
        return _best_available_device()
    name = requested.strip().lower()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(
            f"'{requested}' is not a device name.",
            "Use auto, cpu, cuda, cuda:N or mps.",
        ) from None
    _check_device_available(device, requested)
    return name


def _best_available_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _check_device_available(device: torch.device, requested: str) -> None:
    if device.type == "cpu":
        return
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"CUDA was asked for ('{requested}') but PyTorch sees no CUDA GPU here.",
                "Install a CUDA build of PyTorch and the NVIDIA driver, or use --device cpu.",
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"GPU {device.index} was asked for but this machine has {count}.",
                f"Use cuda:0 to cuda:{count - 1}, or plain cuda.",
            )
        return
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError(
                "Apple's MPS device was asked for but is not available here.",
                "MPS needs an Apple-silicon Mac with macOS 12.3 or newer; otherwise use cpu.",
            )
        return
    raise DeviceError(
        f"Device type '{device.type}' is not supported.",
        "Use auto, cpu, cuda, cuda:N or mps.",
    )


def parse_dtype(name: str) -> torch.dtype:
    """Turn a user-facing dtype name (fp16, bf16, fp32 and their long forms) into a torch dtype."""
    dtype = DTYPES_BY_NAME.get(name.strip().lower())
    if dtype is None:
        raise DeviceError(
            f"'{name}' is not a dtype name.",
            "Use auto, fp16, bf16 or fp32.",
        )
    return dtype


def choose_dtype(device: str, requested: str | None = None) -> torch.dtype:
    """Return the dtype for ``device``: the one asked for, checked, or the device's best.

    Automatic choice: fp16 on CUDA and MPS (half the memory, tensor cores),
    fp32 on the CPU, where half precision is slow or unsupported. bf16 is used
    only when asked for, and only where the GPU supports it.
    """
    device_type = torch.device(device).type
    if requested is None or requested.strip().lower() in ("", "auto"):
        return torch.float32 if device_type == "cpu" else torch.float16
    dtype = parse_dtype(requested)
    if dtype == torch.float16 and device_type == "cpu":
        raise DeviceError(
            "fp16 does not run on the CPU.",
            "Use fp32 (or auto) on the CPU, or bf16 on a recent CPU to save memory.",
        )
    if dtype == torch.bfloat16 and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(
            "This GPU does not support bf16.",
            "Use fp16 (or auto) instead; bf16 needs an Ampere (RTX 30xx) or newer GPU.",
        )
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    """Short name of a dtype, as used in settings and messages (fp16, bf16, fp32)."""
    for name, value in DTYPES_BY_NAME.items():
        if value == dtype:
            return name
    return str(dtype).removeprefix("torch.")


def gpu_memory_gb(device: str | None = None) -> float | None:
    """Total memory of the GPU behind ``device`` (default: the best available), or None on CPU.

    On Apple silicon the GPU shares system memory; the figure is the working
    set macOS recommends for the GPU.
    """
    chosen = torch.device(choose_device(device))
    if chosen.type == "cuda":
        index = chosen.index if chosen.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory / 2**30
    if chosen.type == "mps":
        return torch.mps.recommended_max_memory() / 2**30
    return None


def vram_preset(gb: float) -> VramPreset:
    """Memory class of a GPU: low up to 8 GB, medium up to 16 GB, high above."""
    if gb <= LOW_VRAM_MAX_GB:
        return "low"
    if gb <= MEDIUM_VRAM_MAX_GB:
        return "medium"
    return "high"


def classify_cuda_oom(exc: BaseException) -> OutOfMemoryError | None:
    """Return the user-facing error for a GPU out-of-memory exception, or None for any other.

    PyTorch raises ``torch.OutOfMemoryError`` for CUDA, but MPS and some
    cuBLAS paths raise a plain RuntimeError, so the message is checked too.
    """
    if isinstance(exc, OutOfMemoryError):
        return exc
    text = str(exc)
    is_oom = isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and any(marker in text for marker in _OOM_MARKERS)
    )
    if not is_oom:
        return None
    match = _ALLOCATION_PATTERN.search(text)
    needed = f" while allocating {match.group(1)}" if match else ""
    return OutOfMemoryError(f"The GPU ran out of memory{needed}.", OOM_HINT)


@contextmanager
def translate_oom() -> Iterator[None]:
    """Turn a GPU out-of-memory exception raised inside the block into OutOfMemoryError.

    The frames of the failed step are cleared before the new error is raised:
    the original traceback would otherwise keep their tensors, often
    gigabytes, alive for as long as the error is shown. The allocator cache is
    emptied for the same reason, so the app can go on rendering afterwards.
    """
    try:
        yield
    except RuntimeError as exc:
        translated = classify_cuda_oom(exc)
        if translated is None:
            raise
        traceback.clear_frames(exc.__traceback__)
        release_cached_memory()
        raise translated from None


def release_cached_memory() -> None:
    """Give memory held by PyTorch's allocator cache back to the GPU; harmless on CPU."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if torch.backends.mps.is_available():
        torch.mps.empty_cache()
