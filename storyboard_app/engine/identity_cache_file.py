"""Identity caches on disk: written as they are built, streamed step by step to render.

The saved safetensors file is the cache. :class:`IdentityCacheWriter` writes
each step's entries as soon as the step ends, on a thread of its own, so
building a cache holds a few steps in memory, never the whole cache.
:class:`StreamedIdentityCache` maps the file and hands the attention state one
step at a time: on the CPU as views of the mapping, on CUDA through a pair of
staging buffers pinned once at their exact size (not through PyTorch's
power-of-two pinned allocator), filled by a copy thread and copied to the
device on a side stream one step ahead. Pages of steps already used are given
back to the system, and a cache the current panel does not read gives back its
buffers, so the host memory a render holds is two steps' entries per character
being read, whatever the number of steps, and a reroll reads only the steps it
renders.
"""

from __future__ import annotations

import collections
import contextlib
import json
import mmap
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from storyboard_app.engine.cache_format import (
    CACHE_FORMAT,
    CacheFileDamaged,
    CacheHeader,
    encode_header,
    read_header,
    tensor_name,
)
from storyboard_app.engine.identity_cache import (
    SAFETENSORS_DTYPES,
    TORCH_DTYPES,
    EncodedEntry,
    IdentityCache,
    IdentityCacheMismatch,
    PrefetchedStep,
    check_precision,
    decoded_dtype,
    encode_entry,
)

STAGED_STEPS = 2
WRITE_STEPS_IN_FLIGHT = 2  # steps ended but not yet in the file, at most
COPY_CHUNK = 16 * 2**20


@dataclass(frozen=True)
class _StagedEntry:
    """One entry on its way to the file: its bytes on the host (pinned, filled by a
    queued copy, when it was on CUDA) and what the header says of it."""

    name: str
    data: torch.Tensor  # uint8
    dtype: str
    shape: tuple[int, ...]
    scale: torch.Tensor | float | None


def _stage(name: str, entry: EncodedEntry) -> _StagedEntry:
    """Queue the entry's copy to the host behind the work that made it (no wait)."""
    tensor = entry.tensor.detach()
    scale = entry.scale
    if tensor.is_cuda:
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor, non_blocking=True)
        if isinstance(scale, torch.Tensor):
            scale = torch.empty((), dtype=scale.dtype, pin_memory=True).copy_(
                scale, non_blocking=True
            )
    else:
        host = tensor.contiguous()
    data = host.reshape(-1).view(torch.uint8)
    return _StagedEntry(name, data, SAFETENSORS_DTYPES[host.dtype], tuple(host.shape), scale)


def _copies_done(entries: Iterable[EncodedEntry]) -> torch.cuda.Event | None:
    """An event after the queued device-to-host copies, when there are any."""
    devices = {entry.tensor.device for entry in entries if entry.tensor.is_cuda}
    if not devices:
        return None
    event = torch.cuda.Event()
    event.record(torch.cuda.current_stream(next(iter(devices))))
    return event


class IdentityCacheWriter:
    """Builds an identity cache straight into its file, one step at a time.

    Entries arrive from the attention processors during a step and stay where
    they were made (on the GPU when rendering there) until :meth:`end_step`
    hands them to a writer thread: their copies to the host are queued behind
    the step's work, and the thread waits for them and writes the file, while
    the engine thread goes on denoising (it used to wait for the copies and
    the disk at every step, with the GPU idle). At most
    :data:`WRITE_STEPS_IN_FLIGHT` steps wait for the disk. Given the ``planned``
    entries (the schedule), the header's room is reserved up front, so
    :meth:`finish` writes the header in place and renames the file: no copy,
    no second file. Without a plan the data is copied behind the header.
    :meth:`abort` (on cancel or error) leaves nothing behind.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: str,
        *,
        precision: str | None = "fp16",
        metadata: Mapping[str, str] | None = None,
        planned: Iterable[tuple[int, str]] | None = None,
    ) -> None:
        check_precision(precision)
        self.path = Path(path)
        self.key = key
        self.precision = precision
        self.nbytes = 0
        self._metadata = dict(metadata or {})
        self._reserved = (
            0 if planned is None else reserved_header_bytes(key, planned, self._metadata, precision)
        )
        # Names of its own: two processes building the same cache never share a file.
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._partial = self.path.with_name(f"{self.path.name}.{token}.partial")
        self._assembled = self.path.with_name(f"{self.path.name}.{token}.whole.partial")
        self._data = open(self._partial, "w+b")  # noqa: SIM115 - closed by finish/abort
        self._data.seek(self._reserved)
        self._pending: dict[tuple[int, str], EncodedEntry] = {}
        self._written: list[tuple[str, str, tuple[int, ...], int]] = []
        self._scales: dict[str, float] = {}
        self._dtype: torch.dtype | None = None
        self._writes: collections.deque[Future[None]] = collections.deque()
        self._writer: ThreadPoolExecutor | None = None

    def put(self, step: int, layer: str, tokens: torch.Tensor) -> None:
        """Keep one entry until its step ends; a later step's entry ends earlier ones."""
        if any(pending_step != step for pending_step, _ in self._pending):
            self.end_step(step - 1)
        self._dtype = decoded_dtype(tokens.dtype, self.precision)
        self._pending[(step, layer)] = encode_entry(tokens, self.precision)

    def end_step(self, step: int) -> None:
        """Start writing the entries kept so far (the state calls this as each step
        ends); raises what writing an earlier step raised (a full disk)."""
        if not self._pending:
            return
        staged = [_stage(tensor_name(s, layer), e) for (s, layer), e in self._pending.items()]
        copied = _copies_done(self._pending.values())
        self.nbytes += sum(entry.data.numel() for entry in staged)
        self._pending.clear()
        while self._writes and (
            self._writes[0].done() or len(self._writes) >= WRITE_STEPS_IN_FLIGHT
        ):
            self._writes.popleft().result()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="identity-cache-writer")
        self._writes.append(self._writer.submit(self._write_step, staged, copied))

    def flush(self) -> None:
        """Wait until every step ended so far is in the file (raising what writing raised)."""
        while self._writes:
            self._writes.popleft().result()
        self._data.flush()

    def finish(self) -> StreamedIdentityCache:
        """Write the header in front of the data, sync, rename; open it for reading."""
        try:
            self.end_step(-1)
            self.flush()
            self._stop_writer()
            header = encode_header(self._file_metadata(), self._written, size=self._reserved)
            if len(header) == self._reserved:
                self._data.seek(0)
                self._data.write(header)
                _sync_and_close(self._data)
                os.replace(self._partial, self.path)
            else:
                self._data.close()
                self._copy_behind(header)
                os.replace(self._assembled, self.path)
                self._partial.unlink(missing_ok=True)
        except BaseException:  # a full disk while finishing: leave no half-made file
            self.abort()
            raise
        return StreamedIdentityCache.open(self.path, key=self.key)

    def abort(self) -> None:
        """Drop everything written so far (a cancelled or failed build)."""
        self._pending.clear()
        for write in self._writes:  # let the writer thread finish with the file first
            with contextlib.suppress(BaseException):
                write.result()
        self._writes.clear()
        self._stop_writer()
        # Closing flushes buffered data; on a full disk that raises (the file
        # is closed all the same), and the partial file must still go.
        with contextlib.suppress(OSError):
            self._data.close()
        self._partial.unlink(missing_ok=True)
        self._assembled.unlink(missing_ok=True)

    def _copy_behind(self, header: bytes) -> None:
        """The header, then the data written after the reserved room (too small or none)."""
        with open(self._assembled, "wb") as target, open(self._partial, "rb") as data:
            target.write(header)
            data.seek(self._reserved)
            shutil.copyfileobj(data, target, COPY_CHUNK)
            _sync_and_close(target)

    def write_encoded(self, name: str, entry: EncodedEntry) -> None:
        """Write one entry already in the cache's form now, on this thread (saving an
        in-memory cache, whose entries are made)."""
        staged = _stage(name, entry)
        self.nbytes += staged.data.numel()
        self._write_step([staged], _copies_done([entry]))

    def _write_step(self, staged: list[_StagedEntry], copied: torch.cuda.Event | None) -> None:
        """On the writer thread: once the copies are done, the step's entries in order."""
        if copied is not None:
            copied.synchronize()
        for entry in staged:
            self._data.write(entry.data.numpy().data)
            if entry.scale is not None:
                self._scales[entry.name] = float(entry.scale)
            self._written.append((entry.name, entry.dtype, entry.shape, entry.data.numel()))

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _file_metadata(self) -> dict[str, str]:
        dtype = str(self._dtype or torch.float16).removeprefix("torch.")
        return file_metadata(self.key, self.precision, dtype, self._scales, self._metadata)


def file_metadata(
    key: str,
    precision: str | None,
    dtype: str,
    scales: Mapping[str, float],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """A cache file's metadata: our marker first (``carries_marker`` reads the start)."""
    metadata = {"format": CACHE_FORMAT, "key": key, "precision": precision or "exact"}
    metadata["dtype"] = dtype
    if scales:
        metadata["scales"] = json.dumps(dict(scales), separators=(",", ":"))
    return {**metadata, **extra}


def reserved_header_bytes(
    key: str,
    planned: Iterable[tuple[int, str]],
    extra: Mapping[str, str],
    precision: str | None,
) -> int:
    """Room for the header of a cache storing at most the ``planned`` entries: the
    header with every number at a size no real one reaches (10-digit dimensions,
    offsets of 10^14 bytes per entry, 24-character scales)."""
    names = [tensor_name(step, layer) for step, layer in sorted(planned)]
    scales = {name: -1.2345678901234567e-300 for name in names} if precision == "fp8" else {}
    metadata = file_metadata(key, precision, "bfloat16", scales, extra)
    widest = [(name, "F8_E4M3", (10**9, 10**9, 10**9), 10**14) for name in names]
    return len(encode_header(metadata, widest))


def _sync_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def save_identity_cache(
    cache: IdentityCache, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> None:
    """Write an in-memory cache to ``path`` in the streaming layout."""
    writer = IdentityCacheWriter(path, cache.key, precision=cache.precision, metadata=metadata)
    try:
        for step, layer in cache.entries():
            writer._dtype = cache.dtype
            writer.write_encoded(tensor_name(step, layer), cache.encoded(step, layer))
        writer.finish().close()
    except BaseException:
        writer.abort()
        raise


class StreamedIdentityCache:
    """A saved identity cache read step by step from its memory-mapped file.

    Answers the same questions as :class:`IdentityCache` (``entries``, ``get``,
    ``prefetch``) without ever holding more than :data:`STAGED_STEPS` steps in
    host memory. Open it with :meth:`open`; :meth:`close` when the render ends.
    """

    def __init__(self, path: Path, header: CacheHeader, *, staged: bool = False) -> None:
        self.path = path
        self.staged = staged
        self.header = header
        self.key = header.key
        self.precision = header.metadata.get("precision", "fp16")
        self._dtype = _dtype_named(path, header.metadata.get("dtype", "float16"))
        self._scales = _scales(path, header)
        self._handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._map: mmap.mmap | None = mmap.mmap(self._handle.fileno(), 0, access=mmap.ACCESS_COPY)
        self._live: collections.deque[int] = collections.deque()
        self._staging: list[torch.Tensor] = []
        self._registered: list[bool] = []
        self._staging_events: list[torch.cuda.Event | None] = []
        self._next_staging = 0
        self._side_streams: dict[torch.device, torch.cuda.Stream] = {}
        self._copier: ThreadPoolExecutor | None = None

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, key: str | None = None, staged: bool = False
    ) -> StreamedIdentityCache:
        """Map a saved cache; with ``key``, refuse one built for other settings.

        Reads only the header; marks the file used now (its modification time),
        which is what least-recently-used eviction goes by. ``staged`` copies
        steps through the staging buffers on the CPU too (CUDA always does).
        """
        path = Path(path)
        header = read_header(path)
        if header.format != CACHE_FORMAT:
            raise IdentityCacheMismatch(
                f"{path.name} is an identity cache of another version.",
                "Rebuild the character's identity cache.",
            )
        if key is not None and header.key != key:
            raise IdentityCacheMismatch(
                f"The identity cache {path.name} was built for other settings.",
                "Rebuild the character's identity cache.",
            )
        if not header.is_step_contiguous():
            raise CacheFileDamaged(path, "its steps are not stored one after another")
        os.utime(path)
        return cls(path, header, staged=staged)

    def __len__(self) -> int:
        return len(self.header.entries)

    def __contains__(self, entry: tuple[int, str]) -> bool:
        step, layer = entry
        return any(span.layer == layer for span in self.header.steps.get(step, ()))

    def entries(self) -> list[tuple[int, str]]:
        """Every stored (step, layer), sorted."""
        return sorted((span.step, span.layer) for span in self.header.entries)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored tensors on disk."""
        return self.header.data_bytes

    @property
    def staging_bytes(self) -> int:
        """Staging bytes this cache holds (pinned on CUDA; 0 while reading mapped views)."""
        return sum(buffer.nbytes for buffer in self._staging)

    def get(self, step: int, layer: str) -> torch.Tensor:
        """One entry, decoded, read from the file (KeyError when it was not stored)."""
        entries = self._encoded_step(step, self._step_view(step), self._step_start(step))
        return entries[layer].decode(self._dtype)

    def step_entries(self, step: int) -> dict[str, torch.Tensor]:
        """Decoded entries of one step, as views of the mapped file where possible."""
        return self.prefetch(step, "cpu").wait()

    def prefetch(self, step: int, device: torch.device | str) -> PrefetchedStep:
        """Bring one step towards ``device``: mapped views on the CPU; on CUDA (or
        when ``staged``) a copy through a staging buffer made by a worker thread,
        then on CUDA to the device on a side stream, while the current step computes.

        Steps older than the last :data:`STAGED_STEPS` prefetched give their pages back.
        """
        device = torch.device(device)
        start, end = self.header.step_range(step)
        self._mark_live(step)
        if end == start:
            return PrefetchedStep({}, self._dtype, device=device)
        view = self._step_view(step)
        if device.type != "cuda" and not self.staged:
            return PrefetchedStep(self._encoded_step(step, view, start), self._dtype, device=device)
        index = self._next_staging
        self._next_staging = (index + 1) % STAGED_STEPS
        self._allocate_staging(device)
        if self._copier is None:
            self._copier = ThreadPoolExecutor(1, thread_name_prefix="identity-cache")
        job = self._copier.submit(self._copy_step, step, view, index, device)
        return DeferredStep({}, self._dtype, device=device, job=job)

    def release(self) -> None:
        """Give back the staging buffers, the copy thread and every mapped page while
        no panel reads this cache; the next :meth:`prefetch` sets them up again."""
        if self._copier is not None:
            self._copier.shutdown(wait=True)
            self._copier = None
        for event in self._staging_events:
            if event is not None:
                event.synchronize()
        for buffer, registered in zip(self._staging, self._registered, strict=True):
            if registered:
                torch.cuda.cudart().cudaHostUnregister(buffer.data_ptr())
        self._staging.clear()
        self._registered.clear()
        self._staging_events.clear()
        self._next_staging = 0
        while self._live:
            self._release_pages(self._live.popleft())

    def close(self) -> None:
        """Release everything (see :meth:`release`), then the mapping and the file."""
        self.release()
        if self._map is not None:
            # With views still alive elsewhere, the mapping closes with the last of them.
            with contextlib.suppress(BufferError):
                self._map.close()
            self._map = None
        self._handle.close()

    def _step_start(self, step: int) -> int:
        return self.header.step_range(step)[0]

    def _step_view(self, step: int) -> torch.Tensor:
        """The bytes of one step, as a view of the mapping (no copy)."""
        if self._map is None:
            raise ValueError(f"The identity cache {self.path.name} is closed.")
        start, end = self.header.step_range(step)
        if end == start:
            raise KeyError(step)
        return torch.frombuffer(self._map, dtype=torch.uint8, count=end - start, offset=start)

    def _encoded_step(self, step: int, data: torch.Tensor, start: int) -> dict[str, EncodedEntry]:
        """Entries of one step as views of ``data``, whose first byte is file offset ``start``."""
        entries = {}
        for span in self.header.steps.get(step, ()):
            raw = data[span.start - start : span.end - start]
            tensor = raw.view(TORCH_DTYPES[span.dtype]).view(span.shape)
            entries[span.layer] = EncodedEntry(tensor, self._scales.get(span.name))
        return entries

    def _copy_step(
        self, step: int, view: torch.Tensor, index: int, device: torch.device
    ) -> PrefetchedStep:
        """On the copy thread: the step into staging buffer ``index`` (once the copy
        that last read it is done), its mapped pages given back, then on CUDA an
        asynchronous copy to the device on a side stream."""
        event = self._staging_events[index]
        if event is not None:
            event.synchronize()
        staging = self._staging[index][: view.numel()]
        staging.copy_(view)
        self._release_pages(step)
        start = self._step_start(step)
        if device.type != "cuda":
            return PrefetchedStep(self._encoded_step(step, staging, start), self._dtype)
        if device not in self._side_streams:  # one side stream per device, made once
            self._side_streams[device] = torch.cuda.Stream(device)
        with torch.cuda.stream(self._side_streams[device]):
            on_device = staging.to(device, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record(self._side_streams[device])
        self._staging_events[index] = copied
        return PrefetchedStep(
            self._encoded_step(step, on_device, start), self._dtype, copied, device
        )

    def _allocate_staging(self, device: torch.device) -> None:
        """The staging buffers, allocated once at the largest step's exact size
        (pinned when the steps go to CUDA). Always normal tensors: inference mode is
        thread-local, and the copy thread that fills them runs outside the render's."""
        while len(self._staging) < STAGED_STEPS:
            nbytes = self.header.max_step_bytes
            with torch.inference_mode(False):
                if device.type == "cuda":
                    buffer, registered = _pinned(nbytes)
                else:
                    buffer, registered = torch.empty(nbytes, dtype=torch.uint8), False
            self._staging.append(buffer)
            self._registered.append(registered)
            self._staging_events.append(None)

    def _mark_live(self, step: int) -> None:
        if step in self._live:
            return
        self._live.append(step)
        while len(self._live) > STAGED_STEPS:
            self._release_pages(self._live.popleft())

    def _release_pages(self, step: int) -> None:
        """Give one step's mapped pages back; reading them again re-reads the file."""
        start, end = self.header.step_range(step)
        if self._map is None or end == start or not hasattr(mmap, "MADV_DONTNEED"):
            return
        aligned = start - start % mmap.PAGESIZE
        self._map.madvise(mmap.MADV_DONTNEED, aligned, end - aligned)


@dataclass
class DeferredStep(PrefetchedStep):
    """A step the copy thread is still bringing; :meth:`wait` waits for it there."""

    job: Future[PrefetchedStep] | None = None

    def wait(self) -> dict[str, torch.Tensor]:
        if self.job is None:
            return super().wait()
        return self.job.result().wait()


def open_identity_cache(
    path: str | os.PathLike[str], *, key: str | None = None
) -> StreamedIdentityCache:
    """Open a saved identity cache for streaming (see :meth:`StreamedIdentityCache.open`)."""
    return StreamedIdentityCache.open(path, key=key)


def _pinned(nbytes: int) -> tuple[torch.Tensor, bool]:
    """``nbytes`` of page-locked memory, exactly, and whether it was registered here:
    page-aligned anonymous memory registered with CUDA (PyTorch's pinned allocator
    would round a 210 MiB buffer up to 256 MiB); that allocator only if registering
    fails."""
    memory = mmap.mmap(-1, max(nbytes, 1))
    buffer = torch.frombuffer(memory, dtype=torch.uint8, count=nbytes)
    cudart = torch.cuda.cudart()
    if nbytes and int(cudart.cudaHostRegister(buffer.data_ptr(), nbytes, 0)) == 0:
        return buffer, True
    clear_error = getattr(cudart, "cudaGetLastError", None)
    if clear_error is not None:  # so that no later kernel launch reports this failure
        clear_error()
    return torch.empty(nbytes, dtype=torch.uint8, pin_memory=True), False


def _dtype_named(path: Path, name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype) or dtype not in SAFETENSORS_DTYPES:
        raise CacheFileDamaged(path, f"its dtype {name!r} is unknown")
    return dtype


def _scales(path: Path, header: CacheHeader) -> dict[str, float]:
    """Per-entry scales of an 8-bit cache; every 8-bit entry must have one."""
    try:
        scales = {
            str(k): float(v) for k, v in json.loads(header.metadata.get("scales", "{}")).items()
        }
    except (ValueError, TypeError, AttributeError) as error:
        raise CacheFileDamaged(path, "its scales are malformed") from error
    if any(span.dtype == "F8_E4M3" and span.name not in scales for span in header.entries):
        raise CacheFileDamaged(path, "an 8-bit entry has no scale")
    return scales
