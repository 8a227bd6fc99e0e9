"""Identity caches streamed from disk: host memory stays at two steps per character
whatever the step count, a reroll reads the file step by step instead of loading it,
a build holds one step, and the file stays a plain safetensors file."""

from __future__ import annotations

import errno
import importlib.util
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.identity_cache_file import (
    IdentityCacheWriter,
    StreamedIdentityCache,
    open_identity_cache,
)
from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.project_render import build_render_request
from storyboard_app.engine.render_request import IdentityReady, RenderEvent
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.store import ProjectStore

LAYERS = tuple(f"up_blocks.0.attentions.{i}.transformer_blocks.0.attn1" for i in range(3))
TOKENS, CHANNELS, IMAGES = 256, 1024, 2
SAMPLER = TokenSampler(0.5, 0.5, 512, 512)  # k = 128 of 256 tokens
ENTRY_SHAPE = (2, IMAGES * SAMPLER.count(TOKENS), CHANNELS)
STEP_BYTES = len(LAYERS) * 2 * IMAGES * SAMPLER.count(TOKENS) * CHANNELS * 2  # fp16, 3 MiB
# Linux maps a whole large folio of page cache on a fault, so a mapping may show
# up to a few of those beyond the bytes touched, whatever the size of the cache.
FOLIO_SLACK = 2 * 2**20
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/smaps")


def full_schedule(steps: int) -> ConsistencySchedule:
    return ConsistencySchedule(
        steps, LAYERS, frozenset((s, layer) for s in range(steps) for layer in LAYERS)
    )


def write_cache(path: Path, steps: int, seed: int, precision: str = "fp16") -> None:
    """A cache as a WRITE pass leaves it: every layer at every step, step by step."""
    generator = torch.Generator().manual_seed(seed)
    writer = IdentityCacheWriter(path, f"key{seed}", precision=precision)
    for step in range(steps):
        for layer in LAYERS:
            writer.put(step, layer, torch.randn(ENTRY_SHAPE, generator=generator))
        writer.end_step(step)
    writer.finish().close()


def mapped_rss(path: Path) -> int:
    """Resident bytes of this process's mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's first line
            inside = len(fields) >= 6 and fields[5] == str(path)
        elif inside and fields[:1] == ["Rss:"]:
            total += int(fields[1]) * 1024
    return total


def read_like_a_panel(
    caches: list[StreamedIdentityCache], steps: int, probe: list[Path]
) -> tuple[int, int]:
    """Every step of a READ pass over ``caches``, touching every cached token as the
    attention does; the largest resident bytes of the ``probe`` files, and of all."""
    state = ConsistencyState(full_schedule(steps), SAMPLER)
    state.begin_read([caches], seed=1)
    peak_probe = peak_all = 0
    for step in range(steps):
        state.begin_step(step)
        for layer in LAYERS:
            plan = state.layer_plan(layer, 2, TOKENS, torch.float32, torch.device("cpu"))
            assert plan is not None and plan.cached
            assert torch.isfinite(plan.cached[0]).all()
        peak_probe = max(peak_probe, sum(mapped_rss(p) for p in probe))
        peak_all = max(peak_all, sum(mapped_rss(c.path) for c in caches))
    return peak_probe, peak_all


@linux_only
@pytest.mark.parametrize("characters", [1, 2])
def test_streaming_holds_two_steps_per_character_whatever_the_steps(
    tmp_path: Path, characters: int
) -> None:
    peaks = {}
    for steps in (3, 12):
        paths = [tmp_path / f"c{steps}-{i}.safetensors" for i in range(characters)]
        for i, path in enumerate(paths):
            write_cache(path, steps, seed=i)
        caches = [open_identity_cache(path) for path in paths]
        try:
            _, peaks[steps] = read_like_a_panel(caches, steps, [])
        finally:
            for cache in caches:
                cache.close()
        assert sum(path.stat().st_size for path in paths) > characters * steps * STEP_BYTES
    bound = characters * (2 * STEP_BYTES + FOLIO_SLACK)
    assert 0 < peaks[3] <= bound, peaks
    assert peaks[12] <= bound, peaks  # four times the steps, the same memory


@linux_only
def test_a_step_already_used_gives_its_pages_back(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    write_cache(path, steps=6, seed=0)
    with_cache = open_identity_cache(path)
    try:
        for step in range(6):
            entries = with_cache.prefetch(step, "cpu").wait()
            assert all(float(t.float().abs().sum()) > 0 for t in entries.values())
        assert mapped_rss(path) <= 2 * STEP_BYTES + FOLIO_SLACK
        assert with_cache.staging_bytes == 0  # no staging copy on the CPU: mapped views
    finally:
        with_cache.close()


def test_streamed_file_is_plain_safetensors_laid_out_step_by_step(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    write_cache(path, steps=3, seed=4)
    cache = open_identity_cache(path, key="key4")
    try:
        assert len(cache) == 3 * len(LAYERS)
        with safe_open(str(path), framework="pt") as handle:
            assert handle.metadata()["format"].startswith("storyboard-identity-cache/")
            for step, layer in cache.entries():
                assert torch.equal(handle.get_tensor(f"{step}/{layer}"), cache.get(step, layer))
        starts = [cache.header.step_range(step) for step in range(3)]
        assert starts[0][1] == starts[1][0] and starts[1][1] == starts[2][0]
        assert cache.header.max_step_bytes == STEP_BYTES
    finally:
        cache.close()


def test_build_writes_each_step_as_it_ends(tmp_path: Path) -> None:
    """The writer holds a few steps' entries, never the whole cache."""
    path = tmp_path / "bob.safetensors"
    writer = IdentityCacheWriter(path, "k")
    data = writer._partial
    for step in range(4):
        for layer in LAYERS:
            writer.put(step, layer, torch.ones(ENTRY_SHAPE))
        assert data.stat().st_size == step * STEP_BYTES  # earlier steps are on disk
        writer.end_step(step)
        writer.flush()
        assert data.stat().st_size == (step + 1) * STEP_BYTES
    writer.finish().close()
    assert sorted(tmp_path.iterdir()) == [path]


class SlowFile:
    """The writer's file, whose writes wait until the test lets them through."""

    def __init__(self, file: object) -> None:
        self.file = file
        self.open = threading.Event()
        self.started = threading.Semaphore(0)

    def write(self, data: object) -> int:
        self.started.release()
        assert self.open.wait(30), "the test never let the write through"
        return self.file.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.file, name)


def test_the_denoising_goes_on_while_the_disk_writes(tmp_path: Path) -> None:
    """end_step hands a step to the writer thread and returns (the engine thread used to
    wait for the disk at every step, with the GPU idle); at most two steps wait for the
    disk, and the file is the same."""
    path = tmp_path / "bob.safetensors"
    writer = IdentityCacheWriter(path, "k")
    slow = SlowFile(writer._data)
    writer._data = slow
    entries = {(step, layer): torch.randn(ENTRY_SHAPE) for step in range(4) for layer in LAYERS}
    for step in range(2):
        for layer in LAYERS:
            writer.put(step, layer, entries[step, layer])
        writer.end_step(step)  # returns although nothing reached the disk
    assert slow.started.acquire(timeout=30)  # the writer thread is in the first write
    assert writer._partial.stat().st_size == 0
    blocked = threading.Thread(target=writer.end_step, args=(2,))
    for layer in LAYERS:
        writer.put(2, layer, entries[2, layer])
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # a third step waits for the disk: memory stays bounded
    slow.open.set()
    blocked.join(30)
    for layer in LAYERS:
        writer.put(3, layer, entries[3, layer])
    cache = writer.finish()
    try:
        assert all(torch.equal(cache.get(*key), tensor.half()) for key, tensor in entries.items())
    finally:
        cache.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("identity-cache")]


def test_a_write_that_fails_on_the_writer_thread_fails_the_build(tmp_path: Path) -> None:
    """A full disk met by the writer thread reaches the build (the next step's end, or
    its finish), and the build leaves nothing behind."""
    writer = IdentityCacheWriter(tmp_path / "bob.safetensors", "k")

    def full(data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    writer._data.write = full  # type: ignore[method-assign]
    writer.put(0, LAYERS[0], torch.ones(ENTRY_SHAPE))
    writer.end_step(0)
    writer.put(1, LAYERS[0], torch.ones(ENTRY_SHAPE))
    with pytest.raises(OSError, match="No space"):
        writer.end_step(1)
        writer.finish()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("precision", ["fp16", "fp8"])
def test_planned_build_writes_its_header_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    """Given the schedule, the header's room is reserved: finishing copies nothing."""

    def no_copy(*args: object) -> None:
        raise AssertionError("the data was copied")

    monkeypatch.setattr(shutil, "copyfileobj", no_copy)
    path = tmp_path / "mara.safetensors"
    planned = [(step, layer) for step in range(3) for layer in LAYERS]
    writer = IdentityCacheWriter(
        path, "k", precision=precision, metadata={"character": "Mara"}, planned=planned
    )
    for step, layer in planned:
        writer.put(step, layer, torch.randn(ENTRY_SHAPE))
    cache = writer.finish()
    try:
        assert path.stat().st_size == cache.header.data_start + cache.nbytes
        assert sorted(tmp_path.iterdir()) == [path]
        with safe_open(str(path), framework="pt") as handle:  # the padded header reads
            assert handle.metadata()["character"] == "Mara"
            assert len(handle.keys()) == len(planned)
    finally:
        cache.close()


def test_build_beyond_its_plan_still_makes_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    writer = IdentityCacheWriter(path, "k", planned=[(0, LAYERS[0])])
    for step in range(4):
        for layer in LAYERS:
            writer.put(step, layer, torch.ones(ENTRY_SHAPE) * step)
    cache = writer.finish()
    try:
        assert len(cache) == 4 * len(LAYERS)
        assert float(cache.get(3, LAYERS[2]).max()) == 3.0
        assert sorted(tmp_path.iterdir()) == [path]
    finally:
        cache.close()


def test_aborted_build_leaves_nothing(tmp_path: Path) -> None:
    writer = IdentityCacheWriter(tmp_path / "bob.safetensors", "k")
    writer.put(1, LAYERS[0], torch.ones(ENTRY_SHAPE))
    writer.end_step(1)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=4, identity_images=2
    )
    store.characters.add("Mara", "a woman with red hair", seed=11)
    store.characters.add("Bob", "an old man with a beard", seed=22)
    store.scenes.add("[Mara] climbs the stairs")
    store.scenes.add("[Bob] waits at the top")
    yield store
    store.close()


class ReadSpy:
    """Records every step a streamed cache reads, and fails any whole-file load."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[str, int, int]] = []
        original = StreamedIdentityCache._step_view

        def spy(cache: StreamedIdentityCache, step: int) -> torch.Tensor:
            view = original(cache, step)
            self.reads.append((cache.path.name, step, view.numel()))
            return view

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("an identity cache was loaded whole")

        monkeypatch.setattr(StreamedIdentityCache, "_step_view", spy)
        monkeypatch.setattr("safetensors.torch.load_file", refuse)
        monkeypatch.setattr("safetensors.torch.load", refuse)


def test_reroll_after_restart_streams_the_cache_step_by_step(
    story: ProjectStore, loaded: LoadedPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    StoryRenderer(loaded).render(build_render_request(story), lambda event: None)
    (mara,) = (story.folder / "cache" / "identity").glob("mara-*.safetensors")
    header = open_identity_cache(mara).header

    spy = ReadSpy(monkeypatch)
    events: list[RenderEvent] = []
    restarted = StoryRenderer(loaded)  # nothing of the first render kept in memory
    panel = story.scenes.at(1)
    restarted.render(build_render_request(story, [panel.id]), events.append)
    assert [e.built for e in events if isinstance(e, IdentityReady)] == [False]
    mara_reads = [(step, size) for name, step, size in spy.reads if name == mara.name]
    assert [step for step, _ in mara_reads] == sorted(header.steps)  # each step once, in order
    assert max(size for _, size in mara_reads) == header.max_step_bytes < header.data_bytes
    assert all(name == mara.name for name, _, _ in spy.reads)  # Bob's cache is not read


def test_damaged_cache_is_deleted_and_rebuilt(story: ProjectStore, loaded: LoadedPipeline) -> None:
    request = build_render_request(story, [story.scenes.at(1).id])
    StoryRenderer(loaded).render(request, lambda event: None)
    (mara,) = (story.folder / "cache" / "identity").glob("mara-*.safetensors")
    whole = mara.read_bytes()
    for damage in (whole[: len(whole) // 2], whole[:100], whole + b"extra"):
        mara.write_bytes(damage)
        events: list[RenderEvent] = []
        StoryRenderer(loaded).render(request, events.append)
        assert [e.built for e in events if isinstance(e, IdentityReady)] == [True]
        assert mara.read_bytes() == whole


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_streams_through_two_exactly_sized_pinned_buffers(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    write_cache(path, steps=5, seed=2)
    cache = open_identity_cache(path)
    try:
        for step in range(5):
            on_device = cache.prefetch(step, "cuda").wait()
            for layer, tensor in on_device.items():
                assert tensor.is_cuda
                assert torch.equal(tensor.cpu(), cache.get(step, layer))
        assert cache.staging_bytes == 2 * cache.header.max_step_bytes
        assert all(buffer.is_pinned() for buffer in cache._staging)
    finally:
        cache.close()


def test_precision_is_a_setting_and_each_setting_keeps_its_own_cache(
    story: ProjectStore, loaded: LoadedPipeline
) -> None:
    folder = story.folder / "cache" / "identity"
    request = build_render_request(story, [story.scenes.at(1).id])
    StoryRenderer(loaded).render(request, lambda event: None)
    story.update_settings(identity_cache_precision="fp8")
    events: list[RenderEvent] = []
    StoryRenderer(loaded).render(
        build_render_request(story, [story.scenes.at(1).id]), events.append
    )
    assert [e.built for e in events if isinstance(e, IdentityReady)] == [True]
    paths = sorted(folder.glob("mara-*.safetensors"))
    assert len(paths) == 2  # the fp16 cache is kept for when the setting goes back
    headers = {open_identity_cache(p).header.metadata["precision"]: p for p in paths}
    assert set(headers) == {"fp16", "fp8"}
    assert headers["fp8"].stat().st_size < 0.6 * headers["fp16"].stat().st_size
    story.update_settings(identity_cache_precision="fp16")
    events.clear()
    StoryRenderer(loaded).render(
        build_render_request(story, [story.scenes.at(1).id]), events.append
    )
    assert [e.built for e in events if isinstance(e, IdentityReady)] == [False]


@linux_only
def test_staged_reading_holds_two_exact_buffers_whatever_the_steps(tmp_path: Path) -> None:
    """The path CUDA takes (a copy thread filling a pair of staging buffers), run on
    the CPU: the same tokens as the mapped views, two largest steps of staging whatever
    the step count, no mapped pages kept, and no thread left after close."""
    pools = {}
    for steps in (3, 12):
        path = tmp_path / f"s{steps}.safetensors"
        write_cache(path, steps, seed=steps)
        staged = StreamedIdentityCache.open(path, staged=True)
        seen = {}
        try:
            state = ConsistencyState(full_schedule(steps), SAMPLER)
            state.begin_read([[staged]], seed=1)
            for step in range(steps):
                state.begin_step(step)
                for layer in LAYERS:
                    plan = state.layer_plan(layer, 2, TOKENS, torch.float16, torch.device("cpu"))
                    seen[step, layer] = plan.cached[0].clone()
                # Pages go back once copied; only the step the copy thread may be
                # reading at this moment can be mapped.
                assert mapped_rss(path) <= STEP_BYTES + FOLIO_SLACK
            pools[steps] = staged.staging_bytes
        finally:
            staged.close()
        assert not [t for t in threading.enumerate() if t.name.startswith("identity-cache")]
        mapped = open_identity_cache(path)
        assert all(torch.equal(tokens, mapped.get(*entry)) for entry, tokens in seen.items())
        mapped.close()
    assert pools == {3: 2 * STEP_BYTES, 12: 2 * STEP_BYTES}


def test_staged_reading_fails_clearly_on_a_closed_cache(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    write_cache(path, steps=2, seed=0)
    cache = StreamedIdentityCache.open(path, staged=True)
    cache.close()
    with pytest.raises(ValueError, match="closed"):
        cache.prefetch(0, "cpu")


def test_footprint_formula_predicts_the_files_the_renderer_writes(
    tmp_path: Path, tiny_sdxl_dir: Path
) -> None:
    """The benchmark's SDXL figures come from this formula: on the tiny SDXL every
    cache file (fp16 and fp8) holds exactly the entries, bytes and largest step it
    predicts, and 8 bits stay within a few percent of 16."""
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "cache_footprint", root / "benchmarks" / "cache_footprint.py"
    )
    footprint = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = footprint  # its dataclasses look their module up while defined
    spec.loader.exec_module(footprint)
    check = footprint.check_tiny(tiny_sdxl_dir, tmp_path)
    assert check.checked == 4
    assert 0 < check.fp8_rms_error < 0.04


BUILDER = """
import sys, time, torch
from storyboard_app.engine.identity_cache_file import IdentityCacheWriter
path, value = sys.argv[1], float(sys.argv[2])
writer = IdentityCacheWriter(path, "same key")
for step in range(6):
    writer.put(step, "layer", torch.full((2, 64, 64), value))
    writer.end_step(step)
    writer._data.flush()
    time.sleep(0.05)
writer.finish().close()
"""


def test_two_processes_building_the_same_cache_leave_one_whole_cache(tmp_path: Path) -> None:
    path = tmp_path / "mara.safetensors"
    builders = [
        subprocess.Popen([sys.executable, "-c", BUILDER, str(path), str(value)])
        for value in (1.0, 2.0)
    ]
    assert [builder.wait(timeout=120) for builder in builders] == [0, 0]
    cache = open_identity_cache(path, key="same key")
    values = {float(v) for step in range(6) for v in cache.get(step, "layer").unique()}
    cache.close()
    assert values in ({1.0}, {2.0})  # one builder's cache, whole, not a mix
    assert sorted(tmp_path.iterdir()) == [path]


def test_host_memory_follows_the_characters_being_read(tmp_path: Path) -> None:
    """A cache the current pass does not read gives its staging memory back."""
    caches = {}
    for name in ("mara", "bob"):
        write_cache(tmp_path / f"{name}.safetensors", steps=3, seed=len(name))
        caches[name] = StreamedIdentityCache.open(tmp_path / f"{name}.safetensors", staged=True)
    state = ConsistencyState(full_schedule(3), SAMPLER)
    held = []
    try:
        for cast in (["mara"], ["bob"], ["mara", "bob"], []):
            state.begin_read([[caches[name] for name in cast]], seed=1)
            for step in range(3):
                state.begin_step(step)
            held.append({name: cache.staging_bytes // STEP_BYTES for name, cache in caches.items()})
    finally:
        for cache in caches.values():
            cache.close()
    assert held == [
        {"mara": 2, "bob": 0},
        {"mara": 0, "bob": 2},
        {"mara": 2, "bob": 2},
        {"mara": 0, "bob": 0},
    ]


def test_staged_reading_works_inside_inference_mode(tmp_path: Path) -> None:
    """The renderer reads under ``torch.inference_mode``, which is thread-local: the
    copy thread must still be able to fill staging buffers allocated in it (on a GPU
    this failed at the second step: in-place update to an inference tensor)."""
    path = tmp_path / "cache.safetensors"
    write_cache(path, 3, seed=5)
    staged = StreamedIdentityCache.open(path, staged=True)
    mapped = open_identity_cache(path)
    try:
        with torch.inference_mode():
            state = ConsistencyState(full_schedule(3), SAMPLER)
            state.begin_read([[staged]], seed=1)
            for step in range(3):
                state.begin_step(step)
                for layer in LAYERS:
                    plan = state.layer_plan(layer, 2, TOKENS, torch.float16, torch.device("cpu"))
                    assert torch.equal(plan.cached[0], mapped.get(step, layer))
    finally:
        staged.close()
        mapped.close()
