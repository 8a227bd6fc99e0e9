"""Story-level cost of Consistent Self-Attention on an SDXL-shaped UNet.

With random weights and random text conditioning, denoises what a story render
denoises: one character's identity batch of 4 images together (WRITE, which
builds its identity cache), then single panels with classifier-free guidance,
side by side in each round:

- ``consistent``: the panel reads the character's identity cache (READ) in the
  steps and layers the schedule picks (SDXL's up-block ``attn1`` layers),
  streamed from its file on disk step by step as a render reads it;
- ``plain``: the same panel with the UNet's own processors (consistency off).

Pass table: ``batch`` is the UNet batch (images x 2 guidance halves);
``median s``, ``min s`` and ``max s`` are the median, fastest and slowest time
over the rounds of one whole denoising pass (every UNet call, the guidance and
the scheduler steps; no text encoders, no VAE). Time is wall time, except on a
CPU with one thread (the default) where it is the process's CPU time, which
other processes' load does not inflate. ``peak GiB`` (CUDA only) is
``torch.cuda.max_memory_allocated`` during the pass, weights included.

Identity cache: ``ours`` is what the identity cache holds (sampled input tokens
of the scheduled (step, layer) entries only, in the model dtype), ``official``
what the first release keeps (its ``id_bank``: the full N x C hidden states of
every replaced layer at every step, for all n identity images and both guidance
halves); ``entries o/u`` counts the (step, layer) entries each holds. The
first row is this run, where ours is ``IdentityCache.nbytes`` after
the real WRITE pass (checked against the formula); the second is computed
exactly, from a schedule drawn as a render draws it and the token sampler, for
SDXL at 1024 px, 50 steps, 4 identity images, 36 layers, fp16 (the official
bank is about 41 GiB there).

Devices:

- CPU (default): a reduced-depth SDXL UNet (SDXL's channel widths and 64-channel
  heads, one transformer layer per attention block and one resnet per level)
  at 192 px, 3 steps, one thread; about 2 min on a 2-core CPU. At this size
  attention is a few percent of the UNet's time, so the time ratio says little
  about 1024 px; the memory figures are exact.
- ``--device cuda``: the full SDXL UNet config in fp16 at 1024 px, 30 steps.

Usage: ``python benchmarks/story.py [--device cuda] [--size PX] [--steps N]
[--rounds N] [--threads N]``; ``--compare-official [--quick]`` runs only the
whole-story comparison with the official low-VRAM processor
(:mod:`official_story`; last line ``story official/ours time ratio: X.XX``), on
a GPU too (``--device cuda``, fp16), and ``--compare-official --full-unet`` the
same stories through whole UNet calls (:mod:`official_story_unet`; last line
``story official/ours time ratio, whole UNet: X.XX``).
Lines: ``consistent/plain panel time ratio: X.XX``
(median consistent over median plain panel), ``identity cache official/ours
memory ratio: X.X`` (the SDXL 1024 px row) and the 8-bit reconstruction error of
this run's cache; then, last, the footprint lines of ``cache_footprint.py``
(disk per character and host memory while rendering at SDXL 1024 px defaults,
checked against a measured tiny-model run, and the peak host RSS ratio of 32 to
8 panels).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import official_story
import official_story_unet
import torch
from cache_footprint import LayerShape, conditioning, consistent_layer_shapes, footprint_lines
from diffusers import EulerDiscreteScheduler, UNet2DConditionModel

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import consistent_attention
from storyboard_app.engine.identity_cache import IdentityCache, encode_entry
from storyboard_app.engine.identity_cache_file import (
    StreamedIdentityCache,
    open_identity_cache,
    save_identity_cache,
)

ROOT = Path(__file__).resolve().parents[1]
SDXL = ROOT / "resources/pipeline_configs/sdxl"
IDENTITY_IMAGES = 4
RATE = 0.5
SCHEDULE_SEED = 0
GUIDANCE = 5.0
TEXT_TOKENS = 77
FULL_SIZE, FULL_STEPS, FULL_DTYPE = 1024, 50, torch.float16


@dataclass(frozen=True)
class RunSettings:
    device: torch.device
    dtype: torch.dtype
    size: int
    steps: int
    rounds: int
    reduced: bool
    threads: int

    @property
    def clock(self) -> Callable[[], float]:
        """CPU time of the process on a CPU with one thread: on a shared machine,
        wall time also counts the time other processes hold the core."""
        if self.device.type == "cpu" and self.threads == 1:
            return time.process_time
        return time.perf_counter

    @property
    def clock_name(self) -> str:
        return "process CPU time" if self.clock is time.process_time else "wall time"


@dataclass(frozen=True)
class PassTiming:
    label: str
    batch: int
    seconds: list[float]
    peak_bytes: list[int]


def unet_config(reduced: bool) -> dict:
    """SDXL's UNet config; reduced: one resnet per level and one transformer layer
    per attention block (SDXL has 2 and 1/2/10), same channel widths and heads."""
    config = json.loads((SDXL / "unet/config.json").read_text())
    config = {key: value for key, value in config.items() if not key.startswith("_")}
    if reduced:
        config.update(layers_per_block=1, transformer_layers_per_block=[1, 1, 1])
    return config


def build_unet(config: dict, device: torch.device, dtype: torch.dtype) -> UNet2DConditionModel:
    """Random weights, initialised where they will run (fast on a GPU)."""
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(config)
    return (unet if dtype == torch.float32 else unet.to(dtype=dtype)).eval()


def official_cache_bytes(shapes: Sequence[LayerShape], steps: int, element_size: int) -> int:
    """The first release's bank: every step and replaced layer, full hidden states of
    the n identity images, both guidance halves."""
    per_step = sum(shape.tokens * shape.channels for shape in shapes)
    return steps * per_step * IDENTITY_IMAGES * 2 * element_size


def our_cache_bytes(
    shapes: Sequence[LayerShape],
    schedule: ConsistencySchedule,
    sampler: TokenSampler,
    element_size: int,
) -> int:
    """Our identity cache: k sampled tokens of each identity image and guidance half,
    for the scheduled (step, layer) entries only."""
    by_name = {shape.name: shape for shape in shapes}
    return (
        sum(
            2 * IDENTITY_IMAGES * sampler.count(by_name[layer].tokens) * by_name[layer].channels
            for _, layer in schedule.consistent
        )
        * element_size
    )


def sampler_for(size: int) -> TokenSampler:
    return TokenSampler(RATE, RATE, size, size)


def schedule_for(shapes: Sequence[LayerShape], steps: int) -> ConsistencySchedule:
    return ConsistencySchedule.draw(SCHEDULE_SEED, steps, [shape.name for shape in shapes])


class Denoiser:
    """Euler denoising passes with classifier-free guidance ([uncond x B; cond x B])."""

    def __init__(self, unet: UNet2DConditionModel, config: dict, settings: RunSettings) -> None:
        self.unet = unet
        self.config = config
        self.settings = settings
        scheduler_config = json.loads((SDXL / "scheduler/scheduler_config.json").read_text())
        self.scheduler = EulerDiscreteScheduler.from_config(scheduler_config)

    def inputs(self, images: int, seed: int) -> tuple[torch.Tensor, dict]:
        """Latents and conditioning of ``images`` images, drawn from ``seed``."""
        torch.manual_seed(seed)
        s = self.settings
        latent = s.size // 8
        latents = torch.randn(images, self.config["in_channels"], latent, latent)
        latents = latents.to(device=s.device, dtype=s.dtype)
        return latents, conditioning(self.config, 2 * images, s.size, s.device, s.dtype)

    def __call__(
        self, latents: torch.Tensor, cond: dict, on_step_end: Callable[[int], None]
    ) -> torch.Tensor:
        scheduler = self.scheduler
        scheduler.set_timesteps(self.settings.steps, device=latents.device)
        latents = latents * scheduler.init_noise_sigma
        for step, timestep in enumerate(scheduler.timesteps):
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), timestep)
            noise = self.unet(model_input, timestep, **cond).sample
            uncond, text = noise.chunk(2)
            guided = uncond + GUIDANCE * (text - uncond)
            latents = scheduler.step(guided, timestep, latents).prev_sample
            on_step_end(step)
        return latents


def timed(run: Callable[[], object], settings: RunSettings) -> tuple[float, int]:
    """Seconds of ``run`` on the settings' clock and, on CUDA, the peak memory
    allocated during it."""
    device, clock = settings.device, settings.clock
    if device.type != "cuda":
        start = clock()
        run()
        return clock() - start, 0
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = clock()
    run()
    torch.cuda.synchronize(device)
    return clock() - start, torch.cuda.max_memory_allocated(device)


def run_story(
    unet: UNet2DConditionModel,
    config: dict,
    settings: RunSettings,
    shapes: Sequence[LayerShape],
) -> tuple[list[PassTiming], IdentityCache]:
    """The identity WRITE pass, then rounds of a consistent and a plain panel."""
    denoise = Denoiser(unet, config, settings)
    state = ConsistencyState(
        schedule_for(shapes, settings.steps), sampler_for(settings.size), device=settings.device
    )
    cache = IdentityCache()
    identity = PassTiming(f"identity write ({IDENTITY_IMAGES} images)", 2 * IDENTITY_IMAGES, [], [])
    consistent = PassTiming("panel, consistent (read)", 2, [], [])
    plain = PassTiming("panel, plain processors", 2, [], [])

    def write() -> None:
        state.begin_write(cache, seed=1, images=IDENTITY_IMAGES)
        with consistent_attention(unet, state):
            denoise(*denoise.inputs(IDENTITY_IMAGES, seed=1), state.end_step)

    streamed: list[StreamedIdentityCache] = []

    def read(latents: torch.Tensor, cond: dict) -> None:
        state.begin_read([streamed], seed=2)
        with consistent_attention(unet, state):
            denoise(latents, cond, state.end_step)

    with torch.inference_mode(), tempfile.TemporaryDirectory() as folder:
        _record(identity, timed(write, settings))
        # Panels read the cache as a render does: streamed from its file, step by step.
        save_identity_cache(cache, Path(folder) / "identity.safetensors")
        streamed.append(open_identity_cache(Path(folder) / "identity.safetensors"))
        panel = denoise.inputs(1, seed=3)
        runners = [
            (consistent, lambda: read(*panel)),
            (plain, lambda: denoise(*panel, lambda step: None)),
        ]
        if settings.device.type == "cuda":  # kernels and allocator warm for batch 2
            for _, run in runners:
                run()
        for round_index in range(settings.rounds):
            for timing, run in runners[:: 1 if round_index % 2 == 0 else -1]:
                _record(timing, timed(run, settings))
        streamed[0].close()
    return [identity, consistent, plain], cache


def _record(timing: PassTiming, measured: tuple[float, int]) -> None:
    timing.seconds.append(measured[0])
    timing.peak_bytes.append(measured[1])


def print_passes(timings: Sequence[PassTiming], cuda: bool) -> None:
    header = f"{'pass':<28} {'batch':>5} {'median s':>9} {'min s':>8} {'max s':>8}"
    header += f" {'peak GiB':>9}" if cuda else ""
    print(header)
    print("-" * len(header))
    for t in timings:
        peak = f" {max(t.peak_bytes) / 2**30:>9.2f}" if cuda else ""
        print(
            f"{t.label:<28} {t.batch:>5} {statistics.median(t.seconds):>9.2f} "
            f"{min(t.seconds):>8.2f} {max(t.seconds):>8.2f}{peak}"
        )


def cache_row(label: str, entries: str, official: int, ours: int) -> str:
    return (
        f"{label:<46} {entries:>12} {_size(official):>10} {_size(ours):>10} "
        f"{official / ours:>13.2f}"
    )


def _size(nbytes: int) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GiB"
    return f"{nbytes / 2**20:.1f} MiB"


def settings_for(args: argparse.Namespace) -> RunSettings:
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    return RunSettings(
        device=device,
        dtype=torch.float16 if cuda else torch.float32,
        size=args.size or (1024 if cuda else 192),
        steps=args.steps or (30 if cuda else 3),
        rounds=args.rounds or (3 if cuda else 2),
        reduced=not cuda,
        threads=args.threads,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None, help="image side in px")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="panels of each kind timed")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument(
        "--compare-official",
        action="store_true",
        help="only the whole-story comparison with the official low-VRAM processor",
    )
    parser.add_argument(
        "--quick", action="store_true", help="with --compare-official: the 1,024-token level only"
    )
    parser.add_argument(
        "--dtype",
        choices=("float16", "bfloat16"),
        help="with --compare-official on a GPU (default float16)",
    )
    parser.add_argument(
        "--layers-per-pass",
        type=int,
        help="with --compare-official: layers one timed pass calls (default: 1 on a CPU, "
        "all of a level's on a GPU)",
    )
    parser.add_argument(
        "--host-overhead",
        action="store_true",
        help="with --compare-official: both stories at tiny shapes (the host's work per call)",
    )
    parser.add_argument(
        "--full-unet",
        action="store_true",
        help="with --compare-official: whole UNet calls of the full SDXL config (for a GPU)",
    )
    args = parser.parse_args(argv)
    if args.compare_official:
        compare_official(args)
        return
    settings = settings_for(args)
    cuda = settings.device.type == "cuda"
    if not cuda:
        torch.set_num_threads(args.threads)
    config = unet_config(settings.reduced)
    shapes = consistent_layer_shapes(config, settings.size)
    unet = build_unet(config, settings.device, settings.dtype)
    name = torch.cuda.get_device_name(settings.device) if cuda else f"{args.threads} threads"
    print(
        f"device {settings.device} ({name}), {settings.dtype}, torch {torch.__version__}; "
        f"{'reduced-depth' if settings.reduced else 'full'} SDXL UNet, {len(shapes)} consistent "
        f"layers, {settings.size} px, {settings.steps} steps, {IDENTITY_IMAGES} identity images, "
        f"rate {RATE}, {settings.rounds} rounds, {settings.clock_name}"
    )
    timings, cache = run_story(unet, config, settings, shapes)
    print_passes(timings, cuda)

    element_size = torch.empty(0, dtype=settings.dtype).element_size()
    schedule = schedule_for(shapes, settings.steps)
    ours = our_cache_bytes(shapes, schedule, sampler_for(settings.size), element_size)
    if ours != cache.nbytes:
        raise RuntimeError(f"The cache holds {cache.nbytes} bytes, the formula says {ours}.")
    full_shapes = consistent_layer_shapes(unet_config(reduced=False), FULL_SIZE)
    full_schedule = schedule_for(full_shapes, FULL_STEPS)
    full_size = torch.empty(0, dtype=FULL_DTYPE).element_size()
    full_official = official_cache_bytes(full_shapes, FULL_STEPS, full_size)
    full_ours = our_cache_bytes(full_shapes, full_schedule, sampler_for(FULL_SIZE), full_size)

    print()
    header = (
        f"{'identity cache':<46} {'entries o/u':>12} {'official':>10} {'ours':>10} "
        f"{'official/ours':>13}"
    )
    print(header)
    print("-" * len(header))
    run_label = f"this run: {settings.size} px, {settings.steps} steps, {len(shapes)} layers"
    run_label += f", {str(settings.dtype).removeprefix('torch.')}"
    print(
        cache_row(
            run_label,
            f"{settings.steps * len(shapes)}/{len(cache)}",
            official_cache_bytes(shapes, settings.steps, element_size),
            cache.nbytes,
        )
    )
    print(
        cache_row(
            f"SDXL: {FULL_SIZE} px, {FULL_STEPS} steps, {len(full_shapes)} layers, fp16",
            f"{FULL_STEPS * len(full_shapes)}/{len(full_schedule.consistent)}",
            full_official,
            full_ours,
        )
    )
    seconds = {t.label: statistics.median(t.seconds) for t in timings}
    ratio = seconds["panel, consistent (read)"] / seconds["panel, plain processors"]
    print(f"consistent/plain panel time ratio: {ratio:.2f}")
    print(f"identity cache official/ours memory ratio: {full_official / full_ours:.1f}")
    print(f"8-bit reconstruction error of this run's identity cache: {fp8_error(cache):.2%} RMS")
    print()
    for line in footprint_lines():
        print(line)


def compare_official(args: argparse.Namespace) -> None:
    """``--compare-official``: see :mod:`official_story` (CPU, about 12 min; --quick 2 min;
    a GPU, fp16, seconds); with ``--full-unet`` :mod:`official_story_unet` (the full SDXL
    UNet at 1024 px on a GPU; on a CPU the reduced one at 256 px, about 10 min)."""
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype) if args.dtype else None
    where = official_story.device_for(args.device, args.threads, dtype)
    on_cpu = where.device.type == "cpu"
    name = f"{args.threads} threads" if on_cpu else torch.cuda.get_device_name(where.device)
    print(f"device {where.device} ({name}), {where.dtype}, torch {torch.__version__}")
    if args.host_overhead:
        official_story.host_overhead_report(args.rounds or 200, where)
        return
    if args.full_unet:
        config = unet_config(reduced=on_cpu)
        unet = build_unet(config, where.device, where.dtype)
        size = args.size or (256 if on_cpu else 1024)
        rounds = args.rounds or (2 if on_cpu else 10)
        official_story_unet.report(unet, config, size, rounds, where)
        return
    levels = official_story.quick_levels() if args.quick else official_story.LEVELS
    rounds = args.rounds or ((1 if args.quick else 2) if on_cpu else 20)
    layers = args.layers_per_pass or (1 if on_cpu else None)  # None: all of a level's
    official_story.report(levels, rounds, where, layers)


def fp8_error(cache: IdentityCache) -> float:
    """Relative RMS error of storing this run's real identity-cache entries in 8 bits."""
    error = total = 0.0
    for step, layer in cache.entries():
        exact = cache.get(step, layer).float()
        decoded = encode_entry(exact, "fp8").decode(torch.float32)
        error += float((decoded - exact).square().sum())
        total += float(exact.square().sum())
    return (error / total) ** 0.5


if __name__ == "__main__":
    main()
