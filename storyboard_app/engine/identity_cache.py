"""Per-character identity cache of Consistent Self-Attention.

A character's identity batch is denoised once (WRITE mode); at every scheduled
(step, layer) the tokens it sampled from each identity image are kept here, so
that every panel naming the character can attend to them later (READ mode)
without denoising the identity images again.

Only sampled tokens of scheduled entries are kept, in the model dtype, in host
memory (pinned when they come from CUDA). A panel render streams one step ahead
to the GPU with :meth:`IdentityCache.prefetch`, so GPU memory holds at most two
steps of a cache whatever the number of steps, identity images or characters.
The cache persists as safetensors under a key that hashes everything that
affects it (:func:`identity_cache_key`), so a reroll after a restart stays cheap
and a stale file is recognised instead of being read.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from storyboard_app.project.errors import StoryboardError

CACHE_FORMAT = "storyboard-identity-cache/1"


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


@dataclass
class PrefetchedStep:
    """One step of a cache on its way to a device.

    On CUDA the copies run on a side stream; :meth:`wait` makes the current
    stream wait for them (on the GPU, not the host) and tells the allocator the
    tensors are used there. On the CPU the tensors are the host tensors.
    """

    tensors: dict[str, torch.Tensor]
    event: torch.cuda.Event | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def wait(self) -> dict[str, torch.Tensor]:
        """The tensors, safe to use on the current stream."""
        if self.event is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(self.event)
            for tensor in self.tensors.values():
                tensor.record_stream(stream)
            self.event = None
        return self.tensors


class IdentityCache:
    """Sampled self-attention tokens of one character's identity batch.

    Entries are keyed by (step, layer name) and hold ``[halves, n * k, C]``:
    the guidance halves (uncond first), the k tokens sampled from each of the n
    identity images, and the channels of the layer's input.
    """

    def __init__(self, key: str = "") -> None:
        self.key = key
        self._steps: dict[int, dict[str, torch.Tensor]] = {}
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
    def nbytes(self) -> int:
        """Host bytes held by the cache."""
        return sum(t.nbytes for layers in self._steps.values() for t in layers.values())

    def put(self, step: int, layer: str, tokens: torch.Tensor) -> None:
        """Keep a copy of ``tokens`` in host memory, in their dtype.

        From CUDA the copy goes to pinned memory without blocking the GPU; it
        is waited for before the cache is read, streamed or saved.
        """
        if tokens.is_cuda:
            host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
            host.copy_(tokens, non_blocking=True)
            self._pending_copy = torch.cuda.Event()
            self._pending_copy.record(torch.cuda.current_stream(tokens.device))
        else:
            host = tokens.detach().clone(memory_format=torch.contiguous_format)
        self._steps.setdefault(step, {})[layer] = host

    def get(self, step: int, layer: str) -> torch.Tensor:
        """The host tensor of one entry (KeyError when it was not stored)."""
        self._finish_copies()
        return self._steps[step][layer]

    def step_entries(self, step: int) -> dict[str, torch.Tensor]:
        """Host tensors of one step by layer name (empty when none was stored)."""
        self._finish_copies()
        return dict(self._steps.get(step, {}))

    def prefetch(self, step: int, device: torch.device | str) -> PrefetchedStep:
        """Start copying one step's entries to ``device``.

        On CUDA the copies are asynchronous on a side stream, so the next
        step's tokens arrive while the current step computes; call
        :meth:`PrefetchedStep.wait` before use. Elsewhere nothing is copied.
        """
        device = torch.device(device)
        entries = self.step_entries(step)
        if device.type != "cuda":
            return PrefetchedStep({k: t.to(device) for k, t in entries.items()}, device=device)
        stream = self._side_stream(device)
        with torch.cuda.stream(stream):
            moved = {k: t.to(device, non_blocking=True) for k, t in entries.items()}
            event = torch.cuda.Event()
            event.record(stream)
        return PrefetchedStep(moved, event, device)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cache as safetensors, atomically, with its key and shapes."""
        self._finish_copies()
        tensors = {
            _tensor_name(step, layer): self.get(step, layer) for step, layer in self.entries()
        }
        metadata = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "shapes": json.dumps({name: list(t.shape) for name, t in tensors.items()}),
        }
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        save_file({name: t.contiguous() for name, t in tensors.items()}, partial, metadata)
        os.replace(partial, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        key: str | None = None,
        pin_memory: bool | None = None,
    ) -> IdentityCache:
        """Read a saved cache; with ``key``, refuse one built for other settings.

        ``pin_memory`` defaults to whether CUDA is available, so loaded entries
        stream to the GPU as fast as freshly built ones.
        """
        stored = cls.stored_key(path)
        if key is not None and stored != key:
            raise IdentityCacheMismatch(
                f"The identity cache {Path(path).name} was built for other settings.",
                "Rebuild the character's identity cache.",
            )
        pin = torch.cuda.is_available() if pin_memory is None else pin_memory
        cache = cls(stored)
        tensors = load_file(str(path))
        shapes = json.loads(_metadata(path).get("shapes", "{}"))
        if {name: list(t.shape) for name, t in tensors.items()} != shapes:
            raise IdentityCacheMismatch(
                f"The identity cache {Path(path).name} is damaged.",
                "Rebuild the character's identity cache.",
            )
        for name, tensor in tensors.items():
            step, layer = _parse_tensor_name(name)
            cache._steps.setdefault(step, {})[layer] = tensor.pin_memory() if pin else tensor
        return cache

    @staticmethod
    def stored_key(path: str | os.PathLike[str]) -> str:
        """The key a saved cache was built under, without loading its tensors."""
        metadata = _metadata(path)
        if metadata.get("format") != CACHE_FORMAT:
            raise IdentityCacheMismatch(
                f"{Path(path).name} is not an identity cache of this version.",
                "Rebuild the character's identity cache.",
            )
        return metadata.get("key", "")

    def _finish_copies(self) -> None:
        """Wait for device-to-host copies still in flight (CUDA only)."""
        if self._pending_copy is not None:
            self._pending_copy.synchronize()
            self._pending_copy = None

    def _side_stream(self, device: torch.device) -> torch.cuda.Stream:
        if device not in self._side_streams:
            self._side_streams[device] = torch.cuda.Stream(device)
        return self._side_streams[device]


def is_identity_cache(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a safetensors file Storyboard wrote as an identity cache."""
    try:
        IdentityCache.stored_key(path)
    except Exception:
        return False
    return True


def _metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}


def _tensor_name(step: int, layer: str) -> str:
    return f"{step}/{layer}"


def _parse_tensor_name(name: str) -> tuple[int, str]:
    step, layer = name.split("/", 1)
    return int(step), layer
