"""Consistent Self-Attention: equal to plain attention when nothing is shared,
equal to the official masked formulation when something is, and installed and
restored cleanly on a UNet."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import (
    ConsistentAttnProcessor,
    consistent_attention,
    consistent_layer_names,
    select_consistent_layers,
)
from storyboard_app.engine.identity_cache import IdentityCache

ROOT = Path(__file__).resolve().parents[2]
LAYER = "up_blocks.0.attentions.0.transformer_blocks.0.attn1"
TOKENS = 64
CHANNELS = 32
SIZE = 256  # (256/32)^2 = 64 tokens: the low-resolution level


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from threads; on a busy CPU their barriers cost 50x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/attention.py, whose masked reference is the ground truth here."""
    spec = importlib.util.spec_from_file_location(
        "attention_benchmark", ROOT / "benchmarks/attention.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def attn() -> Attention:
    torch.manual_seed(0)
    return Attention(query_dim=CHANNELS, heads=4, dim_head=8).eval()


def make_state(rate: float = 0.5, window_size: int | None = None) -> ConsistencyState:
    """One layer, consistent at step 0 only."""
    schedule = ConsistencySchedule(2, (LAYER,), frozenset({(0, LAYER)}))
    return ConsistencyState(schedule, TokenSampler(rate, rate, SIZE, SIZE), window_size=window_size)


def run(state: ConsistencyState, attn: Attention, hidden: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ConsistentAttnProcessor().bind(state, LAYER)(attn, hidden)


def plain(attn: Attention, hidden: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return AttnProcessor2_0()(attn, hidden)


def images(count: int, seed: int, halves: int = 2) -> torch.Tensor:
    return torch.randn(
        halves * count, TOKENS, CHANNELS, generator=torch.Generator().manual_seed(seed)
    )


def identity_cache(attn: Attention, hidden: torch.Tensor, seed: int) -> IdentityCache:
    state = make_state()
    cache = IdentityCache()
    state.begin_write(cache, seed=seed, images=hidden.shape[0] // 2)
    run(state, attn, hidden)
    return cache


def test_nothing_shared_equals_default_processor(attn: Attention) -> None:
    hidden = images(3, seed=1)
    expected = plain(attn, hidden)

    off = make_state()
    assert torch.equal(run(off, attn, hidden), expected)
    rate_zero = make_state(rate=0.0)
    rate_zero.begin_write(IdentityCache(), seed=0, images=3)
    torch.testing.assert_close(run(rate_zero, attn, hidden), expected, rtol=0, atol=1e-6)
    one_image = make_state()
    one_image.begin_write(IdentityCache(), seed=0, images=1)
    torch.testing.assert_close(run(one_image, attn, hidden[:2]), plain(attn, hidden[:2]))
    not_scheduled = make_state()
    not_scheduled.begin_write(IdentityCache(), seed=0, images=3)
    not_scheduled.begin_step(1)
    assert torch.equal(run(not_scheduled, attn, hidden), expected)
    assert torch.equal(ConsistentAttnProcessor()(attn, hidden), expected)  # unbound, as IP-Adapter


def test_no_character_panel_alone_equals_plain(attn: Attention) -> None:
    panel = images(1, seed=2)
    state = make_state()
    state.begin_read([[]], seed=3)
    torch.testing.assert_close(run(state, attn, panel), plain(attn, panel))


def test_spatial_input_group_norm_residual_follow_default_order() -> None:
    torch.manual_seed(0)
    attn = Attention(
        query_dim=CHANNELS,
        heads=4,
        dim_head=8,
        norm_num_groups=8,
        residual_connection=True,
        rescale_output_factor=2.0,
    ).eval()
    hidden = torch.randn(4, CHANNELS, 8, 8)
    state = make_state(rate=0.0)
    state.begin_write(IdentityCache(), seed=0, images=2)
    torch.testing.assert_close(run(state, attn, hidden), plain(attn, hidden))
    state = make_state()
    state.begin_write(IdentityCache(), seed=0, images=2)
    assert run(state, attn, hidden).shape == hidden.shape


@pytest.mark.parametrize("halves", [2, 1])
def test_write_equals_masked_reference(attn: Attention, bench: ModuleType, halves: int) -> None:
    n = 3
    hidden = images(n, seed=4, halves=halves)
    state = make_state()
    state.begin_write(IdentityCache(), seed=7, images=n)
    indices = state.sampler.indices(7, 0, 0, n, TOKENS)
    visible = bench.official_visibility(TOKENS, indices, [(i, range(n)) for i in range(n)])
    joined = hidden.view(halves, n * TOKENS, CHANNELS)
    with torch.no_grad():
        expected = bench.masked_consistent_attention(attn, joined, joined, visible)
    torch.testing.assert_close(run(state, attn, hidden), expected.view_as(hidden))


def masked_read_reference(
    bench: ModuleType,
    attn: Attention,
    identities: Sequence[tuple[torch.Tensor, torch.Tensor]],
    panels: torch.Tensor,
    panel_indices: torch.Tensor,
    named: Sequence[Sequence[int]],
    share: bool,
) -> torch.Tensor:
    """Identity images and panels in one sequence; a panel sees its own tokens,
    the sampled tokens of the identity batches it names and, when ``share``, of
    the other panels naming the same characters."""
    owners = [b for b, (hidden, _) in enumerate(identities) for _ in range(hidden.shape[0] // 2)]
    first_panel = len(owners)
    count = panels.shape[0] // 2
    rows = []
    for p in range(count):
        sources = [i for i, owner in enumerate(owners) if owner in named[p]]
        same_cast = [q for q in range(count) if q != p and set(named[q]) == set(named[p])]
        sources += [first_panel + q for q in same_cast] if share and named[p] else []
        rows.append((first_panel + p, sources))
    indices = torch.cat([idx for _, idx in identities] + [panel_indices])
    visible = bench.official_visibility(TOKENS, indices, rows)
    keys = torch.cat(
        [h.view(2, -1, CHANNELS) for h, _ in identities] + [panels.view(2, -1, CHANNELS)], 1
    )
    with torch.no_grad():
        out = bench.masked_consistent_attention(attn, panels.view(2, -1, CHANNELS), keys, visible)
    return out.view_as(panels)


@pytest.mark.parametrize("share", [False, True], ids=["own", "shared"])
@pytest.mark.parametrize(
    "named",
    [[[0]], [[0, 1]], [[]], [[0], [], [0]], [[0], [1]], [[0, 1], [1], [], [1, 0], []]],
    ids=["one", "two-characters", "nc", "window", "window-two", "window-mixed"],
)
def test_read_equals_masked_reference(
    attn: Attention, bench: ModuleType, named: list[list[int]], share: bool
) -> None:
    identity_inputs = [(images(2, seed=10), 11), (images(1, seed=12), 13)]
    caches = [identity_cache(attn, hidden, seed) for hidden, seed in identity_inputs]
    sampler = make_state().sampler
    identities = [
        (h, sampler.indices(s, 0, 0, h.shape[0] // 2, TOKENS)) for h, s in identity_inputs
    ]
    panels = images(len(named), seed=14)

    state = make_state()
    state.begin_read([[caches[c] for c in cs] for cs in named], seed=15, share_between_panels=share)
    panel_indices = sampler.indices(15, 0, 0, len(named), TOKENS)
    expected = masked_read_reference(bench, attn, identities, panels, panel_indices, named, share)
    torch.testing.assert_close(run(state, attn, panels), expected)


def test_panels_do_not_depend_on_their_window(attn: Attention) -> None:
    """By default an [NC] panel attends plainly and a character panel reads only
    its cache, whatever else the window holds (the official read phase)."""
    mara = identity_cache(attn, images(2, seed=70), seed=1)
    bob = identity_cache(attn, images(2, seed=71), seed=2)
    nc, mara_panel, others = images(1, seed=72), images(1, seed=73), images(3, seed=74)
    alone = {}
    for name, panel, caches in (("nc", nc, []), ("mara", mara_panel, [mara])):
        state = make_state()
        state.begin_read([caches], seed=3)
        alone[name] = run(state, attn, panel)
    torch.testing.assert_close(alone["nc"], plain(attn, nc), rtol=0, atol=1e-6)
    window = torch.cat([nc[:1], mara_panel[:1], others[:3], nc[1:], mara_panel[1:], others[3:]])
    for seed, casts in ((3, [[mara], [bob], []]), (9, [[mara], [mara, bob], [mara]])):
        state = make_state()
        state.begin_read([[], [mara], *casts], seed=seed)
        out = run(state, attn, window).view(2, 5, TOKENS, CHANNELS)
        torch.testing.assert_close(
            out[:, 0], alone["nc"].view(2, TOKENS, CHANNELS), rtol=0, atol=1e-6
        )
        torch.testing.assert_close(
            out[:, 1], alone["mara"].view(2, TOKENS, CHANNELS), rtol=0, atol=1e-6
        )


def test_a_window_reads_on_the_device_of_its_state(attn: Attention) -> None:
    """Every index of a window's read lives on the state's device, also when no image
    samples tokens (on a GPU a window of panels failed: CPU and CUDA tensors mixed).
    The meta device stands in for the GPU: it computes shapes, and refuses to mix."""
    mara = identity_cache(attn, images(2, seed=75), seed=1)
    schedule = ConsistencySchedule(2, (LAYER,), frozenset({(0, LAYER)}))
    state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, SIZE, SIZE), device="meta")
    state.begin_read([[mara], [], [mara]], seed=3)
    on_meta = Attention(query_dim=CHANNELS, heads=4, dim_head=8).to("meta").eval()
    window = torch.empty(2 * 3, TOKENS, CHANNELS, device="meta")
    out = run(state, on_meta, window)
    assert out.device.type == "meta"
    assert out.shape == window.shape


def test_shared_panels_of_one_cast_see_each_other(attn: Attention) -> None:
    mara = identity_cache(attn, images(2, seed=80), seed=1)
    panels = images(2, seed=81)
    changed = panels.clone()
    changed[3] += 1.0  # the second panel's conditional half
    outputs = {}
    for share in (False, True):
        state = make_state()
        state.begin_read([[mara], [mara]], seed=3, share_between_panels=share)
        outputs[share] = run(state, attn, panels), run(state, attn, changed)
    assert torch.equal(outputs[False][0][2], outputs[False][1][2])
    assert not torch.allclose(outputs[True][0][2], outputs[True][1][2])


@pytest.mark.parametrize("mode", ["write", "read"])
def test_gathered_projections_equal_projecting_each_images_tokens(mode: str) -> None:
    """Rows gathered after the projections and the per-head key norm equal the
    naive form: each image's own, sampled and cached input tokens projected."""
    torch.manual_seed(0)
    attn = Attention(query_dim=CHANNELS, heads=4, dim_head=8, qk_norm="layer_norm").eval()
    n = 3
    hidden = images(n, seed=60)
    state = make_state()
    cached = None
    if mode == "write":
        state.begin_write(IdentityCache(), seed=8, images=n)
    else:
        cache = identity_cache(attn, images(2, seed=61), seed=9)
        cached = cache.get(0, LAYER)
        state.begin_read([[cache]] * n, seed=8, share_between_panels=True)
    indices = state.sampler.indices(8, 0, 0, n, TOKENS)
    by_image = hidden.view(2, n, TOKENS, CHANNELS)
    expected = torch.empty_like(by_image)
    for i in range(n):
        context = [by_image[:, i]] + [by_image[:, j, indices[j]] for j in range(n) if j != i]
        context += [] if cached is None else [cached]
        with torch.no_grad():
            expected[:, i] = AttnProcessor2_0()(
                attn, by_image[:, i], encoder_hidden_states=torch.cat(context, dim=1)
            )
    torch.testing.assert_close(run(state, attn, hidden), expected.view_as(hidden))


def test_official_step_mask_has_the_official_layout(bench: ModuleType) -> None:
    n, tokens = 3, 256
    torch.manual_seed(0)
    mask = bench.official_step_mask(n, tokens, 0.5, torch.device("cpu"))
    blocks = mask.view(n + 1, tokens, n + 1, tokens)
    assert all(blocks[i, :, i].all() for i in range(n + 1))  # own tokens always
    assert not blocks[:n, :, n].any()  # identity images never see the panel
    assert torch.equal(blocks[n, :, 0], blocks[1, :, 0])  # one draw shared by all rows
    assert torch.equal(blocks[n, 0, 0], blocks[n, 5, 0])
    assert 0.4 < blocks[n, 0, :n].float().mean() < 0.6


def test_tokens_of_another_image_change_an_image_but_not_the_other_half(
    attn: Attention,
) -> None:
    hidden = images(2, seed=20)
    changed = hidden.clone()
    changed[3] += 1.0  # image 1, conditional half ([uncond 0, uncond 1, cond 0, cond 1])
    state = make_state()
    state.begin_write(IdentityCache(), seed=1, images=2)
    before, after = run(state, attn, hidden), run(state, attn, changed)
    assert not torch.allclose(before[2], after[2])  # cond image 0 sees cond image 1
    assert torch.equal(before[0], after[0])  # uncond image 0 never sees the cond half


def test_character_not_named_does_not_change_a_panel(attn: Attention) -> None:
    mara = identity_cache(attn, images(2, seed=30), seed=1)
    bob = identity_cache(attn, images(2, seed=31), seed=2)
    other_bob = identity_cache(attn, images(2, seed=32), seed=2)
    panels = images(2, seed=33)
    state = make_state()
    state.begin_read([[mara], [bob]], seed=3)
    with_bob = run(state, attn, panels)
    state.begin_read([[mara], [other_bob]], seed=3)
    with_other_bob = run(state, attn, panels)
    assert torch.equal(with_bob[[0, 2]], with_other_bob[[0, 2]])  # panel 0 names only Mara
    assert not torch.allclose(with_bob[[1, 3]], with_other_bob[[1, 3]])


def test_panel_with_two_characters_reads_both(attn: Attention) -> None:
    mara = identity_cache(attn, images(2, seed=40), seed=1)
    bob = identity_cache(attn, images(2, seed=41), seed=2)
    panel = images(1, seed=42)
    outputs = {}
    for name, caches in {
        "mara": [mara],
        "bob": [bob],
        "both": [mara, bob],
        "twice": [mara, mara],
    }.items():
        state = make_state()
        state.begin_read([caches], seed=3)
        outputs[name] = run(state, attn, panel)
    assert not torch.allclose(outputs["both"], outputs["mara"])
    assert not torch.allclose(outputs["both"], outputs["bob"])
    assert torch.equal(outputs["twice"], outputs["mara"])


def test_same_seed_same_output_other_seed_other_output(attn: Attention) -> None:
    hidden = images(3, seed=50)
    results = []
    for seed in (1, 1, 2):
        state = make_state()
        cache = IdentityCache()
        state.begin_write(cache, seed=seed, images=3)
        results.append((run(state, attn, hidden), cache.get(0, LAYER)))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    assert not torch.allclose(results[0][0], results[2][0])


def test_tokens_are_redrawn_per_step_and_layer() -> None:
    sampler = TokenSampler(0.5, 0.5, SIZE, SIZE)
    first = sampler.indices(1, step=3, layer_index=0, images=2, tokens=TOKENS)
    assert first.shape == (2, 32)
    assert torch.equal(first, sampler.indices(1, 3, 0, 2, TOKENS))
    assert not torch.equal(first, sampler.indices(1, 4, 0, 2, TOKENS))
    assert not torch.equal(first, sampler.indices(1, 3, 1, 2, TOKENS))
    assert all(len(set(row.tolist())) == 32 for row in first)  # no token drawn twice


def test_rate_follows_resolution_level() -> None:
    sampler = TokenSampler(0.3, 0.6, 1024, 1024)
    assert sampler.count(1024) == 307  # SDXL up_blocks.0 at 1024 px
    assert sampler.count(4096) == 2458  # up_blocks.1


def test_schedule_plain_first_step_then_official_probabilities() -> None:
    layers = [f"layer{i}" for i in range(400)]
    schedule = ConsistencySchedule.draw(seed=5, steps=50, layers=layers)
    per_step = [0] * 50
    for step, _ in schedule.consistent:
        per_step[step] += 1
    assert per_step[0] == 0
    assert 0.67 < sum(per_step[1:20]) / (19 * 400) < 0.73
    assert 0.88 < sum(per_step[20:]) / (30 * 400) < 0.92
    assert schedule == ConsistencySchedule.draw(seed=5, steps=50, layers=layers)
    assert schedule.digest() != ConsistencySchedule.draw(seed=6, steps=50, layers=layers).digest()


def test_window_size_is_enforced(attn: Attention) -> None:
    state = make_state(window_size=2)
    with pytest.raises(ValueError, match="window"):
        state.begin_read([[], [], []], seed=0)


def test_layer_selection_by_block_prefix() -> None:
    names = [
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.0.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.0.attentions.0.transformer_blocks.0.attn2.processor",
        "up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.10.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.1.motion_modules.0.transformer_blocks.0.attn1.processor",
    ]
    assert select_consistent_layers(names, ["up_blocks.1"]) == (
        "up_blocks.1.attentions.0.transformer_blocks.0.attn1",
    )
    assert len(select_consistent_layers(names, ["up_blocks"])) == 3


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


def unet_inputs(batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(batch, 4, 16, 16, generator=generator)
    text = torch.randn(batch, 8, 32, generator=generator)
    return latents, torch.tensor(10), text


def unet_state(unet: UNet2DConditionModel, rate: float) -> ConsistencyState:
    layers = consistent_layer_names(unet, ("up_blocks",))
    schedule = ConsistencySchedule(1, layers, frozenset((0, layer) for layer in layers))
    return ConsistencyState(schedule, TokenSampler(rate, rate, 128, 128))


def forward(unet: UNet2DConditionModel, batch: int) -> torch.Tensor:
    with torch.no_grad():
        return unet(*unet_inputs(batch)).sample


def test_unet_at_rate_zero_equals_default_and_is_restored() -> None:
    unet = tiny_unet()
    originals = unet.attn_processors
    expected = forward(unet, 4)
    for rate, same in ((0.0, True), (0.5, False)):
        state = unet_state(unet, rate)
        state.begin_write(IdentityCache(), seed=0, images=2)
        with consistent_attention(unet, state) as replaced:
            assert replaced == list(state.schedule.layers)
            assert len(replaced) == 2
            output = forward(unet, 4)
        assert torch.allclose(output, expected, atol=1e-5) is same
        assert unet.attn_processors == originals


def test_processors_restored_when_the_forward_raises() -> None:
    unet = tiny_unet()
    originals = unet.attn_processors
    state = unet_state(unet, 0.5)
    state.begin_write(IdentityCache(), seed=0, images=3)
    with pytest.raises(ValueError, match="batch of 4"), consistent_attention(unet, state):
        forward(unet, 4)
    assert unet.attn_processors == originals


def test_schedule_for_other_layers_is_refused() -> None:
    unet = tiny_unet()
    originals = unet.attn_processors
    schedule = ConsistencySchedule(1, ("up_blocks.9.attn1",), frozenset())
    state = ConsistencyState(schedule, TokenSampler(0.5, 0.5, 128, 128))
    with pytest.raises(ValueError, match="other layers"), consistent_attention(unet, state):
        pass
    assert unet.attn_processors == originals


OTHER_LAYER = "up_blocks.0.attentions.1.transformer_blocks.0.attn1"


def every_entry_state() -> ConsistencyState:
    """Two layers, consistent at both of two steps."""
    layers = (LAYER, OTHER_LAYER)
    consistent = frozenset((step, layer) for step in range(2) for layer in layers)
    return ConsistencyState(
        ConsistencySchedule(2, layers, consistent), TokenSampler(0.5, 0.5, SIZE, SIZE)
    )


def two_step_cache(attn: Attention, hidden: torch.Tensor, seed: int) -> IdentityCache:
    """An identity cache with entries for both layers at both steps."""
    state = every_entry_state()
    cache = IdentityCache()
    state.begin_write(cache, seed=seed, images=hidden.shape[0] // 2)
    with torch.no_grad():
        for step in range(2):
            state.begin_step(step)
            for layer in (LAYER, OTHER_LAYER):
                ConsistentAttnProcessor().bind(state, layer)(attn, hidden + step)
    return cache


def call(state: ConsistencyState, attn: Attention, hidden: torch.Tensor, layer: str = LAYER):
    with torch.no_grad():
        return ConsistentAttnProcessor().bind(state, layer)(attn, hidden)


def unprojected(state: ConsistencyState, attn: Attention, hidden: torch.Tensor) -> torch.Tensor:
    """The layer's output with every group projecting its caches itself (no projection cache)."""
    import dataclasses

    from storyboard_app.engine.consistent_attention import consistent_self_attention

    plan = state.layer_plan(LAYER, hidden.shape[0], TOKENS, hidden.dtype, hidden.device)
    with torch.no_grad():
        out = consistent_self_attention(attn, hidden, dataclasses.replace(plan, projections=None))
        return attn.to_out[1](attn.to_out[0](out))


@pytest.mark.parametrize("share", [False, True], ids=["own", "shared"])
def test_projection_cache_changes_no_output_and_projects_each_cache_once(
    attn: Attention, share: bool
) -> None:
    mara = identity_cache(attn, images(2, seed=90), seed=1)
    bob = identity_cache(attn, images(1, seed=91), seed=2)
    casts = [[mara], [mara, bob], [bob], [], [bob, mara], [mara]]
    window = images(len(casts), seed=92)
    state = make_state()
    state.begin_read(casts, seed=5, share_between_panels=share)
    before = state.projections.projected
    output = call(state, attn, window)
    assert state.projections.projected - before == 2  # Mara and Bob, whatever the groups
    torch.testing.assert_close(output, unprojected(state, attn, window), rtol=0, atol=1e-6)


def test_projections_are_reused_within_a_step_and_redone_per_step_and_layer(
    attn: Attention,
) -> None:
    mara = two_step_cache(attn, images(2, seed=93), seed=1)
    bob = two_step_cache(attn, images(2, seed=94), seed=2)
    panel = images(1, seed=95)
    reference = every_entry_state()
    reused = every_entry_state()
    reference.begin_read([[mara, bob]], seed=3)
    reused.begin_read([[mara, bob]], seed=3, calls_per_step=2)
    counts = []
    for step in range(2):
        for state in (reference, reused):
            state.begin_step(step)
        for layer in (LAYER, OTHER_LAYER):
            expected = call(reference, attn, panel, layer)
            for _ in range(2):  # the announced second call of the step reads the projection
                before = reused.projections.projected
                torch.testing.assert_close(call(reused, attn, panel, layer), expected)
                counts.append(reused.projections.projected - before)
    assert counts == [2, 0, 2, 0, 2, 0, 2, 0]  # two characters, per step and layer
    assert reference.projections.projected == 2 * 2 * 2
    call(reference, attn, panel, OTHER_LAYER)  # an unannounced call projects again
    assert reference.projections.projected == 2 * 2 * 2 + 2


def test_a_projection_is_not_reused_by_another_module_or_after_the_pass(attn: Attention) -> None:
    mara = identity_cache(attn, images(2, seed=96), seed=1)
    panel = images(1, seed=97)
    torch.manual_seed(1)
    other = Attention(query_dim=CHANNELS, heads=4, dim_head=8).eval()
    state = make_state()
    state.begin_read([[mara]], seed=3, calls_per_step=3)
    first = call(state, attn, panel)
    assert not torch.allclose(call(state, other, panel), first)
    fresh = make_state()
    fresh.begin_read([[mara]], seed=3)
    torch.testing.assert_close(call(fresh, other, panel), call(state, other, panel))
    bob = identity_cache(attn, images(2, seed=98), seed=2)
    state.begin_read([[bob]], seed=3, calls_per_step=3)
    alone = make_state()
    alone.begin_read([[bob]], seed=3)
    torch.testing.assert_close(call(state, attn, panel), call(alone, attn, panel))


def test_a_layer_call_never_waits_on_the_host(
    attn: Attention, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``.item()``, host copy or tensor truth test in a READ or WRITE call: on a
    GPU each would stall the launch queue in every consistent layer."""
    mara = identity_cache(attn, images(2, seed=99), seed=1)
    bob = identity_cache(attn, images(1, seed=100), seed=2)
    window = images(4, seed=101)
    read = make_state()
    read.begin_read([[mara], [mara, bob], [], [mara]], seed=4, share_between_panels=True)
    write = make_state()
    write.begin_write(IdentityCache(precision="fp8"), seed=4, images=4)

    def host_sync(*args: object, **kwargs: object) -> None:
        raise AssertionError("a layer call synchronised with the host")

    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, host_sync)
    call(read, attn, window)
    call(write, attn, window)


@pytest.mark.parametrize("share", [False, True], ids=["own", "shared"])
def test_a_window_in_lockstep_calls_equals_one_call_and_projects_once(
    attn: Attention, share: bool
) -> None:
    mara = identity_cache(attn, images(2, seed=102), seed=1)
    bob = identity_cache(attn, images(1, seed=103), seed=2)
    casts = [[mara], [mara, bob], [], [bob], [mara]]
    window = images(len(casts), seed=104).view(2, len(casts), TOKENS, CHANNELS)
    whole = make_state()
    whole.begin_read(casts, seed=6, share_between_panels=share)
    expected = call(whole, attn, window.flatten(0, 1)).view_as(window)
    calls = [(1,), (3, 2)] if share else [(1,), (3, 2), (0,), (4,)]
    if share:  # Mara's two panels see each other's tokens: one call
        calls.append((0, 4))
    split = make_state()
    split.begin_read(casts, seed=6, share_between_panels=share, calls_per_step=len(calls))
    before = split.projections.projected
    for carried in calls:
        split.carry(carried)
        out = call(split, attn, window[:, list(carried)].flatten(0, 1))
        torch.testing.assert_close(
            out.view(2, len(carried), TOKENS, CHANNELS), expected[:, list(carried)]
        )
    assert split.projections.projected - before == 2  # Mara and Bob once for all the calls


def test_lockstep_calls_refuse_what_they_cannot_compute(attn: Attention) -> None:
    mara = identity_cache(attn, images(2, seed=105), seed=1)
    state = make_state()
    state.begin_read([[mara], [mara], []], seed=6, share_between_panels=True)
    state.carry([2])  # the [NC] panel shares with no one
    with pytest.raises(ValueError, match="same call"):
        state.carry([0, 2])
    with pytest.raises(ValueError, match="window of 3"):
        state.carry([3])
    with pytest.raises(ValueError, match="distinct"):
        state.carry([1, 1])
    state.begin_write(IdentityCache(), seed=0, images=2)
    with pytest.raises(ValueError, match="read pass"):
        state.carry([0])
