"""Whole stories at SDXL attention shapes: the official low-VRAM processor against ours.

Used by ``story.py --compare-official``. Two stories are rendered, layer call
by layer call, the way each implementation renders them:

- ``1 character``: Mara's identity batch, then 8 panels naming Mara;
- ``2 characters``: Mara's and Bob's identity batches, then 8 panels naming
  Mara, Bob or both (3, 2 and 3 of them, in story order).

``official`` reproduces the ``SpatialAttnProcessor2_0`` of HVision-NKU's
``gradio_app_sdxl_specific_id_low_vram.py`` (read from its repository; it is
reproduced here only, never in the package): the identity batch is denoised
together and each identity image attends to its own tokens and the sampled
tokens of the others (its ``id_bank`` keeps every image's sampled tokens);
then every panel is denoised alone, and in every consistent layer call the
bank tensors of the characters it names and its own tokens are concatenated
and projected to keys and values.

``ours`` is the package: :class:`ConsistentAttnProcessor` writes each identity
cache in one call, then renders the panels in windows of 6 in story order, as
the renderer batches them on an accelerator; each character's cached tokens
are projected once per window, layer and step, whichever panels read them.
``lockstep`` is the same with each window's panels denoised one per call at
every step (:meth:`ConsistencyState.carry`, batch 2 as the official calls),
still reading one projection per window, layer and step.

Both draw the same sampled tokens (the official code draws a Bernoulli(rate)
coin per token, so its count varies around ``rate * N``; here both take
exactly ``round(rate * N)``), so they compute the same images: the run checks
that every panel's output agrees to float tolerance, then times them.

A story's time here is the time of its consistent self-attention layer calls
in one denoising step where all 36 of SDXL's up-block ``attn1`` layers are
consistent: one layer of each level (30 layers of 1,024 tokens x 1,280
channels, 6 of 4,096 x 640 at 1024 px) is run for real, its time multiplied by
the level's layer count (layers of one level have the same shapes and cost).
The rest of the UNet, identical in both, is not timed.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import ConsistentAttnProcessor
from storyboard_app.engine.identity_cache import IdentityCache

RATE = 0.5
IMAGE_SIZE = 1024
IDENTITY_IMAGES = 2
WINDOW = 6
LAYER = "story.attn1"


@dataclass(frozen=True)
class Level:
    tokens: int
    channels: int
    heads: int
    layers: int

    @property
    def sampled(self) -> int:
        return round(RATE * self.tokens)


LEVELS = (Level(1024, 1280, 20, 30), Level(4096, 640, 10, 6))


@dataclass(frozen=True)
class Story:
    name: str
    characters: tuple[str, ...]
    casts: tuple[tuple[str, ...], ...]


M, B, MB = ("mara",), ("bob",), ("mara", "bob")
STORIES = (
    Story("1 character", ("mara",), (M,) * 8),
    Story("2 characters", ("mara", "bob"), (M, B, MB, M, B, MB, M, MB)),
)


def official_call(attn: Attention, hidden: torch.Tensor, encoder: torch.Tensor) -> torch.Tensor:
    """The official ``__call2__`` for an SDXL ``attn1`` (no group norm, 3-D input):
    queries from ``hidden``, keys and values projected from all of ``encoder``."""
    batch = hidden.shape[0]
    query = attn.to_q(hidden)
    key = attn.to_k(encoder)
    value = attn.to_v(encoder)
    head_dim = key.shape[-1] // attn.heads
    query, key, value = (
        t.view(batch, -1, attn.heads, head_dim).transpose(1, 2) for t in (query, key, value)
    )
    out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
    out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
    return attn.to_out[1](attn.to_out[0](out))


def official_write(
    attn: Attention, hidden: torch.Tensor, indices: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The official WRITE branch: bank every image's sampled tokens, then each image
    attends to the others' sampled tokens and its own, one call per image."""
    images = hidden.shape[0] // 2
    by_image = hidden.reshape(2, images, *hidden.shape[1:])
    bank = [by_image[:, i, indices[i], :].clone() for i in range(images)]
    sampled = [by_image[:, i, indices[i], :] for i in range(images)]
    out = by_image.clone()
    for i in range(images):
        others = [sampled[j] for j in range(images) if j != i]
        encoder = torch.cat([*others, by_image[:, i]], dim=1)
        out[:, i] = official_call(attn, by_image[:, i], encoder)
    return out.reshape_as(hidden), bank


def official_read(attn: Attention, panel: torch.Tensor, banks: Sequence[list]) -> torch.Tensor:
    """The official READ branch for one panel ([uncond, cond]): the bank tensors of its
    characters and its own tokens concatenated, projected in this call."""
    encoder_arr = [tensor for bank in banks for tensor in bank]
    return official_call(attn, panel, torch.cat([*encoder_arr, panel], dim=1))


@dataclass
class StoryInputs:
    """One story at one level: identity batches and panels ([uncond x n; cond x n]), and
    how many of the level's layers one pass calls (``indices[name, layer]``: each
    layer's sampled tokens of each identity batch)."""

    level: Level
    story: Story
    identities: dict[str, torch.Tensor]
    panels: list[torch.Tensor]
    indices: dict[tuple[str, int], torch.Tensor]
    layers: int = 1

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(f"{LAYER}.{i}" for i in range(self.layers))


Outputs = dict[tuple[int, int], torch.Tensor]  # (panel, layer) -> that layer's output


def story_inputs(
    level: Level,
    story: Story,
    seed: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    layers: int = 1,
) -> StoryInputs:
    """Drawn on a CPU generator (the same story on any device), then moved. Every layer
    of a pass sees the same inputs (their times are what is measured)."""
    generator = torch.Generator().manual_seed(seed)

    def draw(images: int) -> torch.Tensor:
        drawn = torch.randn(2 * images, level.tokens, level.channels, generator=generator)
        return drawn.to(device=device, dtype=dtype)

    identities = {name: draw(IDENTITY_IMAGES) for name in story.characters}
    sampler = TokenSampler(RATE, RATE, IMAGE_SIZE, IMAGE_SIZE)
    indices = {
        (name, layer): sampler.indices(
            identity_seed(name), 0, layer, IDENTITY_IMAGES, level.tokens
        ).to(device)
        for name in story.characters
        for layer in range(layers)
    }
    panels = [draw(1) for _ in story.casts]
    return StoryInputs(level, story, identities, panels, indices, layers)


def identity_seed(name: str) -> int:
    return sum(name.encode())


def pass_state(layers: Sequence[str], device: torch.device | str = "cpu") -> ConsistencyState:
    """One step, every layer of the pass consistent."""
    schedule = ConsistencySchedule(1, tuple(layers), frozenset((0, layer) for layer in layers))
    sampler = TokenSampler(RATE, RATE, IMAGE_SIZE, IMAGE_SIZE)
    return ConsistencyState(schedule, sampler, device=device)


def render_official(attn: Attention, inputs: StoryInputs) -> Outputs:
    """Identity batches, then each panel alone, each call through every layer of the pass."""
    banks = {}
    for name, hidden in inputs.identities.items():
        for layer in range(inputs.layers):
            _, banks[name, layer] = official_write(attn, hidden, inputs.indices[name, layer])
    outputs = {}
    for panel_index, (panel, cast) in enumerate(
        zip(inputs.panels, inputs.story.casts, strict=True)
    ):
        for layer in range(inputs.layers):
            bank = [banks[name, layer] for name in cast]
            outputs[panel_index, layer] = official_read(attn, panel, bank)
    return outputs


def render_ours(attn: Attention, inputs: StoryInputs, *, lockstep: bool = False) -> Outputs:
    """Identity caches in one call each, then windows of 6 panels in story order:
    each window one call, or with ``lockstep`` one call per panel at each step
    (:meth:`ConsistencyState.carry`), all reading the window's projections; each
    call through every layer of the pass, whose setup (``begin_write``,
    ``begin_read``) is paid once per pass, as in a render."""
    names = inputs.layer_names
    state = pass_state(names, inputs.panels[0].device)
    processors = [ConsistentAttnProcessor().bind(state, name) for name in names]
    caches = {}
    for name, hidden in inputs.identities.items():
        caches[name] = IdentityCache()
        state.begin_write(caches[name], seed=identity_seed(name), images=IDENTITY_IMAGES)
        for processor in processors:
            processor(attn, hidden)
    outputs = {}
    casts = inputs.story.casts
    for start in range(0, len(casts), WINDOW):
        window = inputs.panels[start : start + WINDOW]
        named = [[caches[name] for name in cast] for cast in casts[start : start + WINDOW]]
        if lockstep:
            state.begin_read(named, seed=1, calls_per_step=len(window))
            for i, panel in enumerate(window):
                state.carry([i])
                for layer, processor in enumerate(processors):
                    outputs[start + i, layer] = processor(attn, panel)
            continue
        state.begin_read(named, seed=1)
        batch = torch.cat([p[:1] for p in window] + [p[1:] for p in window])
        for layer, processor in enumerate(processors):
            out = processor(attn, batch).view(2, len(window), *batch.shape[1:])
            outputs.update({(start + i, layer): out[:, i] for i in range(len(window))})
    return outputs


def render_lockstep(attn: Attention, inputs: StoryInputs) -> Outputs:
    return render_ours(attn, inputs, lockstep=True)


WAYS = (("official", render_official), ("ours", render_ours), ("lockstep", render_lockstep))


def check_agreement(attn: Attention, inputs: StoryInputs) -> float:
    """Largest absolute difference between the official outputs and ours, every panel
    and layer."""
    official = render_official(attn, inputs)
    worst = 0.0
    for render in (render_ours, render_lockstep):
        ours = render(attn, inputs)
        if ours.keys() != official.keys():
            raise RuntimeError("The two ways rendered different panels or layers.")
        worst = max([worst] + [float((official[k] - ours[k]).abs().max()) for k in official])
    scale = max(float(a.abs().max()) for a in official.values())
    dtype = next(iter(official.values())).dtype
    tolerance = 1e-4 if dtype == torch.float32 else 1e-2  # fp16 rounds at 1e-3
    if not math.isfinite(worst + scale):
        raise RuntimeError(f"The outputs overflow in {dtype}: try bfloat16.")
    if worst > tolerance * max(scale, 1.0):
        raise RuntimeError(f"The two ways disagree by {worst:.2e}: they must compute the same.")
    return worst


def attention_macs(queries: int, keys: int, projected: int, channels: int) -> int:
    """Multiply-adds of one guidance half of one call: q/out over ``queries`` tokens,
    k/v over ``projected`` tokens, scores and weighted values over ``keys``."""
    return 2 * queries * channels**2 + 2 * projected * channels**2 + 2 * queries * keys * channels


def story_macs(level: Level, story: Story, official: bool) -> int:
    """Multiply-adds of a story's calls at one level, both guidance halves."""
    n, tokens, k, c = IDENTITY_IMAGES, level.tokens, level.sampled, level.channels
    seen = tokens + (n - 1) * k
    if official:
        total = len(story.characters) * n * attention_macs(tokens, seen, seen, c)
    else:
        total = len(story.characters) * n * attention_macs(tokens, seen, tokens, c)
    for start in range(0, len(story.casts), WINDOW):
        window = story.casts[start : start + WINDOW]
        for cast in window:
            keys = tokens + len(cast) * n * k
            total += attention_macs(tokens, keys, keys if official else tokens, c)
        if not official:
            read = {name for cast in window for name in cast}
            total += 2 * len(read) * n * k * c**2
    return 2 * total


@dataclass
class StoryTiming:
    story: Story
    seconds: dict[tuple[str, int], list[float]]

    def level_median(self, way: str, level: Level) -> float:
        """Median time of one layer's calls of the story (a pass's time over its layers)."""
        return statistics.median(self.seconds[way, level.tokens])

    def step_seconds(self, way: str, levels: Sequence[Level]) -> float:
        """One all-consistent step: each level's median layer time times its layer count."""
        return sum(level.layers * self.level_median(way, level) for level in levels)


@dataclass(frozen=True)
class Device:
    """Where the comparison runs: device, dtype and the clock its times are read on."""

    device: torch.device
    dtype: torch.dtype
    clock: Callable[[], float]
    clock_name: str

    def timed(self, run: Callable[..., object], *args: object) -> float:
        """Time of ``run(*args)``, the GPU's queued work included."""
        self.synchronize()
        start = self.clock()
        run(*args)
        self.synchronize()
        return self.clock() - start

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


CPU_ONE_THREAD = Device(torch.device("cpu"), torch.float32, time.process_time, "process CPU time")


def layers_in_pass(level: Level, layers_per_pass: int | None) -> int:
    """Layers one timed pass calls: ``None`` for all of the level's."""
    return level.layers if layers_per_pass is None else min(layers_per_pass, level.layers)


def compare(
    levels: Sequence[Level],
    rounds: int,
    where: Device = CPU_ONE_THREAD,
    layers_per_pass: int | None = 1,
) -> tuple[list[StoryTiming], dict[str, float]]:
    """Interleaved rounds of both ways on both stories; the worst disagreement per story.

    Each timed pass calls ``layers_per_pass`` layers of the level (all of them with
    None), so ours pays its per-pass setup once for them, as a render does once for
    all its layers and steps; the time kept is the pass's over its layers."""
    timings = [StoryTiming(story, {}) for story in STORIES]
    agreement: dict[str, float] = {}
    with torch.inference_mode():
        for level in levels:
            torch.manual_seed(0)
            attn = Attention(query_dim=level.channels, heads=level.heads, dim_head=64)
            attn = attn.to(device=where.device, dtype=where.dtype).eval()
            for timing in timings:
                layers = layers_in_pass(level, layers_per_pass)
                inputs = story_inputs(
                    level, timing.story, level.tokens, where.device, where.dtype, layers
                )
                diff = check_agreement(attn, inputs)  # also the warm-up
                agreement[timing.story.name] = max(agreement.get(timing.story.name, 0.0), diff)
                for round_index in range(rounds):
                    for way, render in WAYS[:: 1 if round_index % 2 == 0 else -1]:
                        seconds = where.timed(render, attn, inputs) / layers
                        timing.seconds.setdefault((way, level.tokens), []).append(seconds)
    return timings, agreement


def report(
    levels: Sequence[Level],
    rounds: int,
    where: Device = CPU_ONE_THREAD,
    layers_per_pass: int | None = 1,
) -> None:
    """Print the table and, last, ``story official/ours time ratio: X.XX``."""
    passes = ", ".join(
        f"{layers_in_pass(level, layers_per_pass)} of {level.layers}" for level in levels
    )
    print(
        f"whole story at SDXL attention shapes, {IDENTITY_IMAGES} identity images, rate {RATE}, "
        f"windows of {WINDOW}; median {where.clock_name} of {rounds} interleaved rounds; "
        f"layers called per pass: {passes}"
    )
    timings, agreement = compare(levels, rounds, where, layers_per_pass)
    header = (
        f"{'story':<13} {'level':>12} {'official s':>10} {'ours s':>8} {'lockstep s':>10} "
        f"{'time o/u':>8} {'o/lockstep':>10} {'FLOP o/u':>8}"
    )
    print(header)
    print("-" * len(header))
    for timing in timings:
        for level in levels:
            official = timing.level_median("official", level)
            ours = timing.level_median("ours", level)
            lockstep = timing.level_median("lockstep", level)
            flops = story_macs(level, timing.story, True) / story_macs(level, timing.story, False)
            print(
                f"{timing.story.name:<13} {f'{level.tokens} x {level.channels}':>12} "
                f"{official:>10.2f} {ours:>8.2f} {lockstep:>10.2f} {official / ours:>8.2f} "
                f"{official / lockstep:>10.2f} {flops:>8.2f}"
            )
    print()
    total = {way: 0.0 for way, _ in WAYS}
    for timing in timings:
        for way in total:
            total[way] += timing.step_seconds(way, levels)
        official = timing.step_seconds("official", levels)
        ours = timing.step_seconds("ours", levels)
        flops = sum(level.layers * story_macs(level, timing.story, True) for level in levels) / sum(
            level.layers * story_macs(level, timing.story, False) for level in levels
        )
        print(
            f"{timing.story.name}: one consistent step of {sum(lv.layers for lv in levels)} "
            f"layers, official {official:.1f} s, ours {ours:.1f} s, ratio {official / ours:.2f} "
            f"(FLOP ratio {flops:.2f}); outputs agree to {agreement[timing.story.name]:.1e}"
        )
    print(
        "story official/ours time ratio, panels in lockstep calls of one panel: "
        f"{total['official'] / total['lockstep']:.2f}"
    )
    print(f"story official/ours time ratio: {total['official'] / total['ours']:.2f}")


HOST_LEVEL = Level(tokens=16, channels=64, heads=1, layers=36)


def host_overhead_report(renders: int, where: Device = CPU_ONE_THREAD) -> None:
    """Both stories at 16 tokens x 64 channels, where the arithmetic is negligible: what
    each way's calls cost the host (Python, small tensors, launches), which sets the
    time of these layers on a fast GPU; per layer, with passes of one layer (each
    pass's setup counted for its one layer) and of 36 (SDXL's consistent layers)."""
    torch.manual_seed(0)
    attn = Attention(query_dim=HOST_LEVEL.channels, heads=HOST_LEVEL.heads, dim_head=64)
    attn = attn.to(device=where.device, dtype=where.dtype).eval()
    print(
        f"host work per layer of a story at {HOST_LEVEL.tokens} tokens x "
        f"{HOST_LEVEL.channels} channels, median {where.clock_name} of {renders} renders"
    )
    print(f"{'story':<13} {'layers':>6} " + " ".join(f"{way + ' ms':>11}" for way, _ in WAYS))
    with torch.inference_mode():
        for story in STORIES:
            for layers in (1, HOST_LEVEL.layers):
                inputs = story_inputs(HOST_LEVEL, story, 3, where.device, where.dtype, layers)
                check_agreement(attn, inputs)
                times: dict[str, list[float]] = {way: [] for way, _ in WAYS}
                for round_index in range(max(renders // layers, 5)):
                    for way, render in WAYS[:: 1 if round_index % 2 == 0 else -1]:
                        times[way].append(where.timed(render, attn, inputs) / layers)
                medians = " ".join(f"{statistics.median(t) * 1e3:>11.3f}" for t in times.values())
                print(f"{story.name:<13} {layers:>6} {medians}")


def quick_levels() -> tuple[Level, ...]:
    return LEVELS[:1]


def device_for(name: str, threads: int, dtype: torch.dtype | None = None) -> Device:
    """fp16 (or ``dtype``) and wall time on a GPU; on a CPU fp32, and process CPU time
    with one thread (other processes' load does not inflate it)."""
    device = torch.device(name)
    if device.type != "cpu":
        return Device(device, dtype or torch.float16, time.perf_counter, "wall time")
    if threads == 1:
        return CPU_ONE_THREAD
    return Device(device, torch.float32, time.perf_counter, "wall time")
