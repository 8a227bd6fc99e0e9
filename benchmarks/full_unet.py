"""``attention.py --full-unet``: what consistency costs a panel of the full SDXL UNet.

The full SDXL UNet config (2.6 B random weights, fp32) at 1024 px, CPU, one
thread, one denoising step with classifier-free guidance. The timed step has
all 36 up-block ``attn1`` layers consistent; a panel reads one character's
identity cache (2 identity images, rate 0.5: 1,024 cached tokens at the
1,024-token level, 4,096 at the 4,096-token level), filled with random tokens
of the exact shapes a WRITE pass leaves.

- Lone panel, measured: whole UNet calls (batch 2), plain processors against
  consistent ones, interleaved rounds (about 3 min per call here).
- Window of 6, measured by layer: a UNet call of 6 panels (batch 12) takes
  about 20 min here, so its plain time is taken as 6 times the measured lone
  plain call (every layer's work is per image), and what consistency adds is
  measured on the 36 layers themselves: one layer of each level run plain and
  consistent at batch 12, times the level's layer count. The same is done for
  the lone panel, as a check of the method against the whole-UNet figure.

FLOP floors: the plain UNet's FLOPs are counted by
``torch.utils.flop_counter`` on the meta device (shapes only, no compute);
what consistency adds per layer is computed from its shapes: projecting the L
cached tokens to keys and values (once per window) and attending to L more
keys (per panel). Figures are given for the timed step and on the drawn
schedule (30 steps; step 0 plain, then 70% then 90% of the layers), where a
step's extra cost is that of its consistent layers only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from cache_footprint import LayerShape, conditioning, consistent_layer_shapes
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch.utils.flop_counter import FlopCounterMode

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import ConsistentAttnProcessor, consistent_attention
from storyboard_app.engine.identity_cache import IdentityCache

SIZE = 1024
RATE = 0.5
IDENTITY_IMAGES = 2
WINDOW = 6
RENDER_STEPS = 30
HALVES = 2


@dataclass(frozen=True)
class Level:
    tokens: int
    channels: int
    layers: int

    @property
    def cached(self) -> int:
        """L: cached tokens one character brings to a layer of this level."""
        return IDENTITY_IMAGES * round(RATE * self.tokens)

    def extra_macs(self, panels: int) -> int:
        """What consistency adds to one layer call of ``panels`` panels (both halves):
        the cache projected once, and L more keys and values attended by every panel."""
        n, c, cached = self.tokens, self.channels, self.cached
        return HALVES * (2 * cached * c * c + panels * 2 * n * cached * c)


def levels_of(shapes: Sequence[LayerShape]) -> list[Level]:
    counts: dict[tuple[int, int], int] = {}
    for shape in shapes:
        counts[shape.tokens, shape.channels] = counts.get((shape.tokens, shape.channels), 0) + 1
    return [Level(t, c, count) for (t, c), count in sorted(counts.items())]


def plain_unet_macs(config: dict) -> float:
    """Multiply-adds of one plain UNet call of a lone panel (batch 2), by shapes only."""
    meta = torch.device("meta")
    with meta:
        unet = UNet2DConditionModel.from_config(config).eval()
    latents = torch.empty(HALVES, config["in_channels"], SIZE // 8, SIZE // 8, device=meta)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        unet(latents, torch.tensor(10.0), **conditioning(config, HALVES, SIZE, meta))
    return counter.get_total_flops() / 2


def one_step_state(layers: Sequence[str]) -> ConsistencyState:
    """Every layer consistent at the only step."""
    schedule = ConsistencySchedule(1, tuple(layers), frozenset((0, layer) for layer in layers))
    return ConsistencyState(schedule, TokenSampler(RATE, RATE, SIZE, SIZE))


def random_cache(shapes: Sequence[LayerShape]) -> IdentityCache:
    """An identity cache of the shapes a WRITE pass of 2 identity images leaves."""
    generator = torch.Generator().manual_seed(7)
    cache = IdentityCache()
    for shape in shapes:
        cached = IDENTITY_IMAGES * round(RATE * shape.tokens)
        cache.put(0, shape.name, torch.randn(HALVES, cached, shape.channels, generator=generator))
    return cache


def timed(run: Callable[[], object], clock: Callable[[], float]) -> float:
    start = clock()
    run()
    return clock() - start


def lone_panel_unet(
    config: dict, shapes: Sequence[LayerShape], cache: IdentityCache, rounds: int, clock
) -> tuple[float, float]:
    """Median plain and consistent whole-UNet call of a lone panel."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config).eval()
    latents = torch.randn(HALVES, config["in_channels"], SIZE // 8, SIZE // 8)
    cond = conditioning(config, HALVES, SIZE, torch.device("cpu"))
    state = one_step_state([shape.name for shape in shapes])

    def plain() -> None:
        unet(latents, torch.tensor(10.0), **cond)

    def consistent() -> None:
        state.begin_read([[cache]], seed=1)
        with consistent_attention(unet, state):
            unet(latents, torch.tensor(10.0), **cond)

    times: dict[str, list[float]] = {"plain": [], "consistent": []}
    runners = [("plain", plain), ("consistent", consistent)]
    for round_index in range(rounds):
        for name, run in runners[:: 1 if round_index % 2 == 0 else -1]:
            times[name].append(timed(run, clock))
    return statistics.median(times["plain"]), statistics.median(times["consistent"])


def layer_extra_seconds(
    level: Level,
    shapes: Sequence[LayerShape],
    cache: IdentityCache,
    panels: int,
    rounds: int,
    clock,
) -> tuple[float, float]:
    """Median plain and consistent time of one layer of ``level`` for ``panels`` panels."""
    torch.manual_seed(0)
    attn = Attention(query_dim=level.channels, heads=level.channels // 64, dim_head=64)
    attn = attn.eval()
    layer = next(s.name for s in shapes if (s.tokens, s.channels) == (level.tokens, level.channels))
    state = one_step_state([s.name for s in shapes])
    state.begin_read([[cache]] * panels, seed=1)
    processor = ConsistentAttnProcessor().bind(state, layer)
    hidden = torch.randn(HALVES * panels, level.tokens, level.channels)
    runners = [("plain", lambda: AttnProcessor2_0()(attn, hidden))]
    runners.append(("consistent", lambda: processor(attn, hidden)))
    processor(attn, hidden)  # warm-up
    times: dict[str, list[float]] = {"plain": [], "consistent": []}
    for round_index in range(rounds):
        for name, run in runners[:: 1 if round_index % 2 == 0 else -1]:
            times[name].append(timed(run, clock))
    return statistics.median(times["plain"]), statistics.median(times["consistent"])


def schedule_share(shapes: Sequence[LayerShape], levels: Sequence[Level]) -> float:
    """Mean extra FLOPs per step on the drawn schedule over those of the all-consistent step."""
    schedule = ConsistencySchedule.draw(0, RENDER_STEPS, [shape.name for shape in shapes])
    by_name = {s.name: next(lv for lv in levels if lv.tokens == s.tokens) for s in shapes}
    drawn = sum(by_name[layer].extra_macs(1) for _, layer in schedule.consistent)
    return drawn / RENDER_STEPS / sum(lv.layers * lv.extra_macs(1) for lv in levels)


def report(
    config: dict, rounds: int, layer_rounds: int, clock, clock_name: str, layers_only: bool = False
) -> None:
    """Print the table; last the window-of-6 line (with ``layers_only``, the layers'
    figures and the extra seconds a step's consistent layers add, no UNet call)."""
    shapes = consistent_layer_shapes(config, SIZE)
    levels = levels_of(shapes)
    cache = random_cache(shapes)
    unet_macs = plain_unet_macs(config)
    print(
        f"full SDXL UNet, {SIZE} px, fp32, one step, {len(shapes)} consistent layers, "
        f"{IDENTITY_IMAGES} identity images, rate {RATE}; {clock_name}; "
        f"plain UNet {2 * unet_macs / 1e12:.2f} TFLOP per panel call"
    )
    with torch.inference_mode():
        layer_times = {
            (level.tokens, panels): layer_extra_seconds(
                level, shapes, cache, panels, layer_rounds, clock
            )
            for level in levels
            for panels in (1, WINDOW)
        }
        print_layers(layer_times, levels)

    def extra(panels: int) -> float:
        return sum(
            level.layers
            * (layer_times[level.tokens, panels][1] - layer_times[level.tokens, panels][0])
            for level in levels
        )

    for panels in (1, WINDOW):
        added = extra(panels) / panels
        print(f"{panels} panel(s) a call: the consistent layers add {added:.2f} s a panel")
    if layers_only:
        return
    with torch.inference_mode():
        plain_s, consistent_s = lone_panel_unet(config, shapes, cache, rounds, clock)

    def floor(panels: int) -> float:
        added = sum(level.layers * level.extra_macs(panels) for level in levels)
        return 1 + added / (panels * unet_macs)

    lone = consistent_s / plain_s
    lone_by_layers = 1 + extra(1) / plain_s
    window = 1 + extra(WINDOW) / (WINDOW * plain_s)
    share = schedule_share(shapes, levels)
    print(f"lone panel UNet call: plain {plain_s:.1f} s, consistent {consistent_s:.1f} s")
    print("all-consistent step           measured  FLOP floor")
    print(f"lone panel, whole UNet        {lone:>8.3f}  {floor(1):>10.3f}")
    print(f"lone panel, by layers         {lone_by_layers:>8.3f}  {floor(1):>10.3f}")
    print(f"window of {WINDOW}, by layers       {window:>8.3f}  {floor(WINDOW):>10.3f}")
    print(
        f"drawn schedule ({RENDER_STEPS} steps): a step pays {share:.1%} of that extra on average"
    )

    def drawn(ratio: float) -> float:
        return 1 + (ratio - 1) * share

    print(
        f"consistent/plain panel time ratio, lone panel: {drawn(lone):.2f} "
        f"(FLOP floor {drawn(floor(1)):.3f})"
    )
    print(f"window of {WINDOW} on the drawn schedule: FLOP floor {drawn(floor(WINDOW)):.3f}")
    print(f"consistent/plain panel time ratio, window of {WINDOW}: {drawn(window):.2f}")


def print_layers(layer_times: dict, levels: Sequence[Level]) -> None:
    """One layer's median times, printed as soon as they are measured."""
    print(f"{'level':>12} {'layers':>6} {'panels':>6} {'plain s':>8} {'consistent s':>12}")
    for (tokens, panels), (plain, consistent) in layer_times.items():
        level = next(lv for lv in levels if lv.tokens == tokens)
        print(
            f"{f'{tokens} x {level.channels}':>12} {level.layers:>6} {panels:>6} "
            f"{plain:>8.2f} {consistent:>12.2f}",
            flush=True,
        )


def clock_for(threads: int) -> tuple[Callable[[], float], str]:
    if threads == 1:
        return time.process_time, "process CPU time"
    return time.perf_counter, "wall time"
