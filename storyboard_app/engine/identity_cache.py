"""Per-character identity cache of Consistent Self-Attention.

A character's identity batch is denoised once (WRITE mode); at every scheduled
(step, layer) the tokens it sampled from each identity image are kept, so that
every panel naming the character can attend to them later (READ mode) without
denoising the identity images again. Only sampled input tokens of scheduled
entries are kept: every one of them is read by every panel naming the
character, and inputs are half the size of the keys and values they project to.

This module holds the settings key, the storage precision (16-bit, or 8-bit
``float8_e4m3fn`` with one scale per entry) and :class:`IdentityCache`, the
in-memory form used when a render has no cache folder. On disk a cache is a
safetensors file written and streamed step by step by
:mod:`storyboard_app.engine.identity_cache_file`; both forms answer
:meth:`prefetch`, which is all the attention state asks of a cache.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from storyboard_app.project.errors import StoryboardError

CACHE_PRECISIONS = ("fp16", "fp8")
FP8 = torch.float8_e4m3fn
FP8_MAX = torch.finfo(FP8).max
SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    FP8: "F8_E4M3",
}
TORCH_DTYPES = {name: dtype for dtype, name in SAFETENSORS_DTYPES.items()}


class IdentityCacheMismatch(StoryboardError):
    """A stored identity cache built for other settings than the ones asked for."""


def identity_cache_key(**parts: object) -> str:
    """Stable sha256 hex digest of everything that affects an identity cache.

    The renderer passes the model, image size, steps, scheduler, character
    prompt and seed, consistency settings and schedule; any change gives a new
    key, so a cache built for other settings is never read. Keyword order does
    not matter; dataclasses, enums, paths and sets are accepted.
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value: object) -> object:
    """JSON form of the non-JSON values a cache key is commonly built from."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (Path, torch.dtype, torch.device)):
        return str(value)
    raise TypeError(f"Cannot use {type(value).__name__} in an identity cache key.")


@dataclass(frozen=True)
class EncodedEntry:
    """One entry as stored: the tensor in its storage dtype and, for 8-bit, its scale."""

    tensor: torch.Tensor
    scale: torch.Tensor | float | None = None

    def decode(self, dtype: torch.dtype) -> torch.Tensor:
        """The entry's tokens in ``dtype`` (the stored tensor itself when nothing changes)."""
        if self.scale is None:
            return self.tensor if self.tensor.dtype == dtype else self.tensor.to(dtype)
        scale = self.scale
        if isinstance(scale, torch.Tensor):
            scale = scale.to(self.tensor.device, non_blocking=True)
        return (self.tensor.to(torch.float32) * scale).to(dtype)


@dataclass
class PrefetchedStep:
    """One step of a cache on its way to a device.

    On CUDA the copies run on a side stream; :meth:`wait` makes the current
    stream wait for them (on the GPU, not the host), tells the allocator the
    tensors are used there and decodes 8-bit entries. On the CPU the tensors
    are the host tensors (or views of the mapped cache file).
    """

    entries: dict[str, EncodedEntry]
    dtype: torch.dtype | None = None
    event: torch.cuda.Event | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def wait(self) -> dict[str, torch.Tensor]:
        """The decoded tensors by layer, safe to use on the current stream."""
        if self.event is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(self.event)
            for entry in self.entries.values():
                entry.tensor.record_stream(stream)
            self.event = None
        return {
            layer: entry.decode(self.dtype or entry.tensor.dtype)
            for layer, entry in self.entries.items()
        }


class IdentitySink(Protocol):
    """What a WRITE pass records into (:class:`IdentityCache`, or a writer to disk)."""

    key: str

    def put(self, step: int, layer: str, tokens: torch.Tensor) -> None: ...

    def end_step(self, step: int) -> None: ...


class IdentityBank(Protocol):
    """What a READ pass reads: one step at a time, on its way to the device."""

    key: str

    def prefetch(self, step: int, device: torch.device | str) -> PrefetchedStep: ...


def check_precision(precision: str | None) -> None:
    if precision is not None and precision not in CACHE_PRECISIONS:
        raise ValueError(f"Unknown identity cache precision {precision!r}.")


def decoded_dtype(source: torch.dtype, precision: str | None) -> torch.dtype:
    """The dtype entries are read back in: the model's 16-bit dtype for ``fp16``
    and ``fp8`` (float16 from an fp32 model), the source dtype when ``None``."""
    if precision is None or source in (torch.float16, torch.bfloat16):
        return source
    return torch.float16


def encode_entry(tokens: torch.Tensor, precision: str | None) -> EncodedEntry:
    """``tokens`` in the storage precision, on their own device, without a host sync.

    ``fp8`` divides by one scale per entry (its largest magnitude over the
    largest ``float8_e4m3fn`` value) so that no entry overflows and small ones
    keep their 3-bit mantissa; ``None`` keeps the tensor exactly.
    """
    check_precision(precision)
    tokens = tokens.detach()
    if precision == "fp8":
        amax = tokens.abs().amax().to(torch.float32)
        scale = torch.where(amax > 0, amax / FP8_MAX, torch.ones_like(amax))
        return EncodedEntry((tokens.to(torch.float32) / scale).to(FP8).contiguous(), scale)
    dtype = decoded_dtype(tokens.dtype, precision)
    return EncodedEntry(tokens.to(dtype).clone(memory_format=torch.contiguous_format))


class IdentityCache:
    """Sampled self-attention tokens of one character's identity batch, in memory.

    Entries are keyed by (step, layer name) and hold ``[halves, n * k, C]``:
    the guidance halves (uncond first), the k tokens sampled from each of the n
    identity images, and the channels of the layer's input. ``precision`` is
    the storage (``fp16``, ``fp8``, or ``None`` to keep the tensors exactly).
    """

    def __init__(self, key: str = "", precision: str | None = None) -> None:
        check_precision(precision)
        self.key = key
        self.precision = precision
        self._steps: dict[int, dict[str, EncodedEntry]] = {}
        self._dtype: torch.dtype | None = None
        self._pending_copy: torch.cuda.Event | None = None
        self._side_streams: dict[torch.device, torch.cuda.Stream] = {}

    def __len__(self) -> int:
        return sum(len(layers) for layers in self._steps.values())

    def __contains__(self, entry: tuple[int, str]) -> bool:
        step, layer = entry
        return layer in self._steps.get(step, {})

    def entries(self) -> list[tuple[int, str]]:
        """Every stored (step, layer), sorted."""
        return sorted((step, layer) for step, layers in self._steps.items() for layer in layers)

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype entries decode to (None while empty)."""
        return self._dtype

    @property
    def nbytes(self) -> int:
        """Bytes of the stored tensors (what the cache file's data holds)."""
        return sum(e.tensor.nbytes for layers in self._steps.values() for e in layers.values())

    def put(self, step: int, layer: str, tokens: torch.Tensor) -> None:
        """Keep ``tokens`` in the cache's precision, in host memory.

        From CUDA the copy goes to pinned memory without blocking the GPU; it
        is waited for before the cache is read or streamed.
        """
        encoded = encode_entry(tokens, self.precision)
        self._dtype = decoded_dtype(tokens.dtype, self.precision)
        if tokens.is_cuda:
            encoded = EncodedEntry(_to_pinned(encoded.tensor), encoded.scale)
            self._pending_copy = torch.cuda.Event()
            self._pending_copy.record(torch.cuda.current_stream(tokens.device))
        self._steps.setdefault(step, {})[layer] = encoded

    def end_step(self, step: int) -> None:
        """Nothing to flush: entries are kept as they come."""

    def encoded(self, step: int, layer: str) -> EncodedEntry:
        """The stored form of one entry (KeyError when it was not stored)."""
        self._finish_copies()
        return self._steps[step][layer]

    def get(self, step: int, layer: str) -> torch.Tensor:
        """One entry's tokens, decoded (KeyError when it was not stored)."""
        entry = self.encoded(step, layer)
        return entry.decode(self._dtype or entry.tensor.dtype)

    def step_entries(self, step: int) -> dict[str, torch.Tensor]:
        """Decoded host tensors of one step by layer name (empty when none was stored)."""
        return {layer: self.get(step, layer) for layer in self._steps.get(step, {})}

    def prefetch(self, step: int, device: torch.device | str) -> PrefetchedStep:
        """Start copying one step's entries to ``device``.

        On CUDA the copies are asynchronous on a side stream, so the next
        step's tokens arrive while the current step computes; call
        :meth:`PrefetchedStep.wait` before use. Elsewhere nothing is copied.
        """
        device = torch.device(device)
        if device.type != "cuda":
            entries = self.step_entries(step)
            return PrefetchedStep({k: EncodedEntry(t.to(device)) for k, t in entries.items()})
        self._finish_copies()
        stream = self._side_stream(device)
        layers = self._steps.get(step, {})
        with torch.cuda.stream(stream):
            moved = {
                layer: EncodedEntry(e.tensor.to(device, non_blocking=True), e.scale)
                for layer, e in layers.items()
            }
            event = torch.cuda.Event()
            event.record(stream)
        return PrefetchedStep(moved, self._dtype, event, device)

    def _finish_copies(self) -> None:
        """Wait for device-to-host copies still in flight (CUDA only)."""
        if self._pending_copy is not None:
            self._pending_copy.synchronize()
            self._pending_copy = None

    def _side_stream(self, device: torch.device) -> torch.cuda.Stream:
        if device not in self._side_streams:
            self._side_streams[device] = torch.cuda.Stream(device)
        return self._side_streams[device]


def _to_pinned(tensor: torch.Tensor) -> torch.Tensor:
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    return host.copy_(tensor, non_blocking=True)
