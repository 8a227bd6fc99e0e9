"""Identity cache: only scheduled entries of sampled tokens, a faithful round trip
through safetensors, and a key that changes with anything that affects it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention

from storyboard_app.engine.cache_format import CacheFileDamaged, is_identity_cache
from storyboard_app.engine.cache_store import cache_path, clear_caches
from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    MissingIdentityEntry,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import (
    ConsistentAttnProcessor,
    consistent_attention,
    consistent_layer_names,
)
from storyboard_app.engine.identity_cache import (
    IdentityCache,
    IdentityCacheMismatch,
    identity_cache_key,
)
from storyboard_app.engine.identity_cache_file import open_identity_cache, save_identity_cache
from storyboard_app.project.settings import ConsistencySettings

STEPS = 4
LAYER = "up_blocks.0.attentions.0.transformer_blocks.0.attn1"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from threads; on a busy CPU their barriers cost 50x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_unet() -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=16,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    ).eval()


def denoise(unet: UNet2DConditionModel, state: ConsistencyState, latents: torch.Tensor) -> list:
    """STEPS UNet calls, ending each step on the state as a pipeline callback would."""
    text = torch.randn(latents.shape[0], 8, 32, generator=torch.Generator().manual_seed(1))
    outputs = []
    with torch.no_grad(), consistent_attention(unet, state):
        for step in range(STEPS):
            outputs.append(unet(latents, torch.tensor(900 - 200 * step), text).sample)
            state.end_step(step)
    return outputs


@pytest.fixture(scope="module")
def unet() -> UNet2DConditionModel:
    return tiny_unet()


@pytest.fixture(scope="module")
def schedule(unet: UNet2DConditionModel) -> ConsistencySchedule:
    layers = consistent_layer_names(unet, ("up_blocks",))
    return ConsistencySchedule.draw(seed=3, steps=STEPS, layers=layers, early_probability=0.5)


def latents(batch: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 4, 16, 16, generator=torch.Generator().manual_seed(seed))


def built_cache(unet: UNet2DConditionModel, schedule: ConsistencySchedule) -> IdentityCache:
    state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, 128, 128))
    cache = IdentityCache(key="mara")
    state.begin_write(cache, seed=7, images=2)
    denoise(unet, state, latents(4, seed=2))
    return cache


def test_write_stores_only_scheduled_entries_of_sampled_tokens(
    unet: UNet2DConditionModel, schedule: ConsistencySchedule
) -> None:
    cache = built_cache(unet, schedule)
    assert cache.entries() == sorted(schedule.consistent)
    assert 0 < len(cache) < STEPS * len(schedule.layers)  # step 0 and unlucky draws skipped
    tokens, channels = 8 * 8, 64  # up_blocks.0 of the 16x16 latent
    for step, layer in cache.entries():
        entry = cache.get(step, layer)
        assert entry.shape == (2, 2 * tokens // 2, channels)  # halves, n images * k = N / 2, C
    assert cache.nbytes == sum(cache.get(*entry).nbytes for entry in cache.entries())


def test_entries_hold_the_sampled_inputs_in_the_model_dtype() -> None:
    torch.manual_seed(0)
    attn = Attention(query_dim=32, heads=4, dim_head=8).to(torch.bfloat16).eval()
    schedule = ConsistencySchedule(1, (LAYER,), frozenset({(0, LAYER)}))
    state = ConsistencyState(schedule, TokenSampler(0.25, 0.25, 256, 256))
    cache = IdentityCache()
    state.begin_write(cache, seed=5, images=3)
    hidden = torch.randn(6, 64, 32, dtype=torch.bfloat16)
    with torch.no_grad():
        ConsistentAttnProcessor().bind(state, LAYER)(attn, hidden)
    indices = state.sampler.indices(5, 0, 0, 3, 64)
    by_image = hidden.view(2, 3, 64, 32)
    expected = torch.cat([by_image[:, i, indices[i]] for i in range(3)], dim=1)
    assert torch.equal(cache.get(0, LAYER), expected)
    assert cache.get(0, LAYER).dtype == torch.bfloat16


def test_saved_cache_loads_identical_and_gives_the_same_panel(
    unet: UNet2DConditionModel, schedule: ConsistencySchedule, tmp_path: Path
) -> None:
    cache = built_cache(unet, schedule)
    path = tmp_path / "mara.safetensors"
    save_identity_cache(cache, path)
    loaded = open_identity_cache(path, key="mara")
    assert loaded.key == "mara"
    assert loaded.entries() == cache.entries()
    assert all(torch.equal(loaded.get(*e), cache.get(*e)) for e in cache.entries())

    panels = {}
    for name, source in (("memory", cache), ("disk", loaded), ("none", None)):
        state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, 128, 128))
        state.begin_read([[source] if source else []], seed=11)
        panels[name] = denoise(unet, state, latents(2, seed=12))[-1]
    assert torch.equal(panels["memory"], panels["disk"])
    assert not torch.allclose(panels["memory"], panels["none"])


def test_cache_for_other_settings_is_refused(tmp_path: Path) -> None:
    cache = IdentityCache(key=identity_cache_key(character_seed=1))
    cache.put(1, LAYER, torch.ones(2, 4, 8))
    path = tmp_path / "bob.safetensors"
    save_identity_cache(cache, path)
    assert open_identity_cache(path).key == cache.key
    with pytest.raises(IdentityCacheMismatch):
        open_identity_cache(path, key=identity_cache_key(character_seed=2))
    not_a_cache = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, not_a_cache)
    with pytest.raises(CacheFileDamaged):
        open_identity_cache(not_a_cache)


def test_key_changes_with_every_part() -> None:
    parts = {
        "model": "stabilityai/stable-diffusion-xl-base-1.0",
        "size": (1024, 1024),
        "steps": 30,
        "scheduler": "euler",
        "character_prompt": "a young woman with short red hair",
        "character_seed": 1234,
        "consistency": ConsistencySettings(),
        "schedule": "abc",
    }
    key = identity_cache_key(**parts)
    assert len(key) == 64
    assert key == identity_cache_key(**dict(reversed(parts.items())))
    changes = {
        "model": "other/model",
        "size": (1024, 768),
        "steps": 31,
        "scheduler": "dpm++",
        "character_prompt": "a young woman with long red hair",
        "character_seed": 1235,
        "consistency": ConsistencySettings(sampling_rate=0.4),
        "schedule": "abd",
    }
    for name, value in changes.items():
        assert identity_cache_key(**{**parts, name: value}) != key, name


def test_prefetch_on_cpu_hands_back_the_host_tensors() -> None:
    cache = IdentityCache()
    cache.put(2, LAYER, torch.arange(8.0).view(2, 2, 2))
    prefetched = cache.prefetch(2, "cpu").wait()
    assert prefetched[LAYER] is cache.get(2, LAYER)
    assert cache.prefetch(3, "cpu").wait() == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_entries_are_pinned_on_host_and_prefetched_to_the_device() -> None:
    cache = IdentityCache()
    tokens = torch.randn(2, 16, 8, device="cuda", dtype=torch.float16)
    cache.put(1, LAYER, tokens)
    assert cache.get(1, LAYER).is_pinned()
    on_device = cache.prefetch(1, "cuda").wait()[LAYER]
    assert on_device.is_cuda
    assert torch.equal(on_device, tokens)


def test_panel_needing_a_missing_entry_fails_clearly() -> None:
    schedule = ConsistencySchedule(1, (LAYER,), frozenset({(0, LAYER)}))
    state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, 256, 256))
    state.begin_read([[IdentityCache()]], seed=0)
    attn = Attention(query_dim=32, heads=4, dim_head=8).eval()
    with pytest.raises(MissingIdentityEntry, match="rebuild"), torch.no_grad():
        ConsistentAttnProcessor().bind(state, LAYER)(attn, torch.randn(2, 64, 32))


def test_damaged_or_foreign_files_are_not_identity_caches(tmp_path: Path) -> None:
    for i, data in enumerate([b"", b"\x80\x04garbage", b"\x10\x00\x00\x00"]):
        bad = tmp_path / f"bad{i}.safetensors"
        bad.write_bytes(data)
        assert not is_identity_cache(bad)
    a = cache_path(tmp_path, "Mr. X", "k" * 64)
    b = cache_path(tmp_path, "Mr X", "k" * 64)
    assert a != b
    foreign = a.with_name(a.name.rsplit("-", 1)[0] + "-old.safetensors")
    foreign.write_bytes(b"not ours")
    clear_caches(tmp_path, "Mr. X")
    assert foreign.exists()


class ReadRecorder(dict):
    """A step's entries that remember which layers a panel asked for."""

    def __init__(self, entries: dict, step: int, seen: set) -> None:
        super().__init__(entries)
        self.step, self.seen = step, seen

    def get(self, layer: str, default: object = None) -> object:
        self.seen.add((self.step, layer))
        return super().get(layer, default)


def test_every_stored_entry_is_read_by_a_panel(
    unet: UNet2DConditionModel, schedule: ConsistencySchedule
) -> None:
    """Nothing in a cache goes unread: the store holds exactly what panels read."""
    cache = built_cache(unet, schedule)
    seen: set[tuple[int, str]] = set()
    original = cache.prefetch

    def recording_prefetch(step: int, device: object) -> object:
        prefetched = original(step, device)
        entries = prefetched.wait()
        return type("Ready", (), {"wait": lambda self: ReadRecorder(entries, step, seen)})()

    cache.prefetch = recording_prefetch  # type: ignore[method-assign]
    state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, 128, 128))
    state.begin_read([[cache]], seed=11)
    denoise(unet, state, latents(2, seed=12))
    assert seen == set(cache.entries())


def test_fp8_round_trip_error_is_bounded() -> None:
    """Within float8_e4m3fn's rounding (3 mantissa bits, half an ulp = 2^-4 relative)
    of each value, or its subnormal step at the entry's scale; about 2% RMS."""
    generator = torch.Generator().manual_seed(0)
    spread = torch.logspace(-3, 2, 64)  # channels five decades apart, as SDXL's outliers
    tokens = torch.randn(2, 96, 64, generator=generator) * spread
    cache = IdentityCache(precision="fp8")
    cache.put(1, LAYER, tokens)
    stored = cache.encoded(1, LAYER)
    assert stored.tensor.dtype == torch.float8_e4m3fn
    assert stored.tensor.nbytes == tokens.numel()
    decoded = cache.get(1, LAYER).float()
    scale = float(tokens.abs().max()) / torch.finfo(torch.float8_e4m3fn).max
    bound = tokens.abs() * (2**-4 + 2**-10) + scale * 2**-10
    assert ((decoded - tokens).abs() <= bound).all()
    relative = (decoded - tokens).norm() / tokens.norm()
    assert 0 < relative < 0.03


def test_fp8_file_is_half_the_size_and_streams_what_was_stored(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(3)
    caches = {p: IdentityCache(key=p, precision=p) for p in ("fp16", "fp8")}
    for step in range(1, 4):
        tokens = torch.randn(2, 32, 16, generator=generator) * step
        for cache in caches.values():
            cache.put(step, LAYER, tokens)
    sizes = {}
    for precision, cache in caches.items():
        path = tmp_path / f"{precision}.safetensors"
        save_identity_cache(cache, path)
        streamed = open_identity_cache(path, key=precision)
        sizes[precision] = streamed.nbytes
        assert streamed.precision == precision
        for step, layer in cache.entries():
            assert torch.equal(streamed.get(step, layer), cache.get(step, layer))
            assert streamed.get(step, layer).dtype == torch.float16
        streamed.close()
    assert sizes["fp8"] * 2 == sizes["fp16"]


def test_engine_and_settings_agree_on_precisions() -> None:
    from storyboard_app.engine.identity_cache import CACHE_PRECISIONS
    from storyboard_app.project.settings import IDENTITY_CACHE_PRECISIONS

    assert CACHE_PRECISIONS == IDENTITY_CACHE_PRECISIONS
