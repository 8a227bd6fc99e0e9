"""The on-disk layout of an identity cache: a safetensors file laid out step by step.

An identity cache is an ordinary safetensors file (any safetensors reader opens
it) whose tensors are named ``"{step}/{layer}"`` and stored in step order, so
that one step's entries are one contiguous byte range a renderer can read on
its own. Its metadata carries our marker (``format``), the settings key, the
storage precision, the per-entry scales of 8-bit storage and a readable
summary for ``storyboard cache``.

This module reads and writes only the header, with ``struct`` and ``json``: the
cache listing and eviction use it without importing torch.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from storyboard_app.project.errors import StoryboardError

FORMAT_PREFIX = "storyboard-identity-cache/"
CACHE_FORMAT = FORMAT_PREFIX + "2"
DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1}
HEADER_ALIGNMENT = 8
MAX_HEADER_BYTES = 100 * 2**20


class CacheFileDamaged(StoryboardError):
    """A file that should be an identity cache cannot be read as one."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(
            f"The identity cache {Path(path).name} is damaged: {problem}.",
            "Delete it; the next render rebuilds it.",
        )


@dataclass(frozen=True)
class EntrySpan:
    """Where one (step, layer) entry lies in the file; ``start``/``end`` are file offsets."""

    step: int
    layer: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def name(self) -> str:
        return tensor_name(self.step, self.layer)

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class CacheHeader:
    """The parsed header of an identity cache file: metadata and entry spans."""

    metadata: dict[str, str]
    entries: tuple[EntrySpan, ...]
    data_start: int

    @property
    def format(self) -> str:
        return self.metadata.get("format", "")

    @property
    def key(self) -> str:
        return self.metadata.get("key", "")

    @property
    def data_bytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries)

    @cached_property
    def steps(self) -> dict[int, tuple[EntrySpan, ...]]:
        """Entries by step, each step's in file order."""
        by_step: dict[int, list[EntrySpan]] = {}
        for entry in sorted(self.entries, key=lambda e: e.start):
            by_step.setdefault(entry.step, []).append(entry)
        return {step: tuple(spans) for step, spans in sorted(by_step.items())}

    def step_range(self, step: int) -> tuple[int, int]:
        """File offsets ``(start, end)`` of one step's entries ((0, 0) when none)."""
        spans = self.steps.get(step, ())
        return (spans[0].start, spans[-1].end) if spans else (0, 0)

    def is_step_contiguous(self) -> bool:
        """Whether every step's entries form one byte range (true of files we write)."""
        return all(
            sum(s.nbytes for s in spans) == spans[-1].end - spans[0].start
            for spans in self.steps.values()
        )

    @property
    def max_step_bytes(self) -> int:
        """Bytes of the largest step: the size of one staging buffer."""
        return max((end - start for start, end in map(self.step_range, self.steps)), default=0)


def tensor_name(step: int, layer: str) -> str:
    return f"{step}/{layer}"


def parse_tensor_name(name: str) -> tuple[int, str]:
    step, layer = name.split("/", 1)
    return int(step), layer


def encode_header(
    metadata: dict[str, str],
    entries: list[tuple[str, str, tuple[int, ...], int]],
    size: int | None = None,
) -> bytes:
    """The 8-byte length and JSON header for ``(name, dtype, shape, nbytes)`` entries
    stored back to back in the given order, padded with spaces as safetensors does:
    to ``size`` bytes in all when it fits (the space a writer reserved), else to 8."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, nbytes in entries:
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if size is not None and len(text) + 8 <= size:
        text += b" " * (size - 8 - len(text))
    else:
        text += b" " * (-(len(text) + 8) % HEADER_ALIGNMENT)
    return struct.pack("<Q", len(text)) + text


def read_header(path: str | os.PathLike[str]) -> CacheHeader:
    """Parse and check a cache file's header without reading its tensors.

    Raises :class:`CacheFileDamaged` for anything that is not a whole, consistent
    safetensors file carrying our marker, so a half-written or foreign file is
    never read as a cache.
    """
    raw, length, size = read_raw_header(path)
    metadata = raw.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not str(metadata.get("format", "")).startswith(
        FORMAT_PREFIX
    ):
        raise CacheFileDamaged(path, "it carries no identity cache marker")
    data_start = 8 + length
    entries = tuple(_entry(path, name, info, data_start) for name, info in raw.items())
    _check_layout(path, entries, data_start, size)
    return CacheHeader({str(k): str(v) for k, v in metadata.items()}, entries, data_start)


def read_raw_header(path: str | os.PathLike[str]) -> tuple[dict[str, object], int, int]:
    """Any safetensors file's JSON header, its length and the file's size, read without
    its tensors (and without torch); :class:`CacheFileDamaged` when it has none."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CacheFileDamaged(path, "it is too short")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise CacheFileDamaged(path, "its header length is impossible")
        try:
            raw = json.loads(handle.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CacheFileDamaged(path, "its header is not JSON") from error
    if not isinstance(raw, dict):
        raise CacheFileDamaged(path, "its header is not a table")
    return raw, length, size


def _entry(path: str | os.PathLike[str], name: str, info: object, data_start: int) -> EntrySpan:
    try:
        step, layer = parse_tensor_name(name)
        dtype = info["dtype"]  # type: ignore[index]
        shape = tuple(int(n) for n in info["shape"])  # type: ignore[index]
        begin, end = (int(n) for n in info["data_offsets"])  # type: ignore[index]
    except (ValueError, TypeError, KeyError) as error:
        raise CacheFileDamaged(path, f"its entry {name!r} is malformed") from error
    if dtype not in DTYPE_SIZES or end - begin != math.prod(shape) * DTYPE_SIZES[dtype]:
        raise CacheFileDamaged(path, f"its entry {name!r} has an impossible size")
    return EntrySpan(step, layer, dtype, shape, data_start + begin, data_start + end)


def _check_layout(
    path: str | os.PathLike[str], entries: tuple[EntrySpan, ...], data_start: int, size: int
) -> None:
    """Entries must tile the data exactly, as safetensors requires: a truncated or
    padded file is damaged."""
    position = data_start
    for entry in sorted(entries, key=lambda e: e.start):
        if entry.start != position:
            raise CacheFileDamaged(path, "its entries overlap or leave gaps")
        position = entry.end
    if position != size:
        raise CacheFileDamaged(path, "its length does not match its header")


def is_identity_cache(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a whole safetensors file Storyboard wrote as an identity cache."""
    try:
        read_header(path)
    except (OSError, CacheFileDamaged):
        return False
    return True


def carries_marker(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like one of our caches, even if its data is damaged.

    Clearing and eviction delete only such files (and damaged ones of ours), never
    a foreign file that happens to sit in the cache folder.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return FORMAT_PREFIX.encode("ascii") in head
