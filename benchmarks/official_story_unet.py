"""Whole stories through the whole SDXL UNet: the official low-VRAM processor against ours.

Used by ``story.py --compare-official --full-unet``. :mod:`official_story` times
the consistent layers alone; this times every UNet call of one all-consistent
denoising step of a story (all 36 up-block ``attn1`` layers consistent), so the
rest of the UNet, the same work in every way, is counted too, and so is what
batching a window of panels into one call gains on a GPU. The two stories are
:data:`official_story.STORIES` (8 panels each; one character, then two).

Ways, each rendering a story's identity batches then its panels:

- ``official``: each character's identity batch in one UNet call (batch 2n)
  whose consistent layers run the official WRITE branch (one attention call
  per identity image, its bank kept); then each panel alone (batch 2), its
  consistent layers concatenating and projecting the banks of its cast
  (:func:`official_story.official_read`), as ``gradio_app_sdxl_specific_id_low_vram.py``
  renders a story;
- ``ours``: the package (:func:`consistent_attention`): each identity batch in one
  call, then windows of 6 panels in story order, one call per window, as the
  renderer batches them on an accelerator;
- ``lockstep``: ours with each window's panels one per call (batch 2), sharing the
  window's projections (:meth:`ConsistencyState.carry`);
- ``plain``: the UNet's own processors, panels one per call and no identity
  batches: what the story's panels cost without consistency, for reference.

The run first checks that official, ours and lockstep compute the same noise
predictions for every panel (relative error), then times interleaved rounds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import official_story
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from official_story import IDENTITY_IMAGES, RATE, STORIES, WINDOW, Device, Story

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import consistent_attention, consistent_layer_names
from storyboard_app.engine.identity_cache import IdentityCache

TEXT_TOKENS = 77
TIMESTEP = 500.0
READ_SEED = 1


class OfficialState:
    """What the official processor keeps in module globals (the write flag and its
    ``id_bank``), held here in one object: the mode, whose identity batch is written,
    the cast a panel names, and each character's bank per layer."""

    def __init__(self, schedule: ConsistencySchedule, sampler: TokenSampler) -> None:
        self.schedule = schedule
        self.sampler = sampler
        self.writing = ""
        self.cast: tuple[str, ...] = ()
        self.banks: dict[tuple[str, str], list[torch.Tensor]] = {}

    def write(self, character: str) -> None:
        self.writing, self.cast = character, ()

    def read(self, cast: Sequence[str]) -> None:
        self.writing, self.cast = "", tuple(cast)


class OfficialProcessor:
    """The official ``SpatialAttnProcessor2_0`` of one consistent ``attn1`` layer:
    WRITE samples with the same token sampler the package uses, so both ways compute
    the same images."""

    def __init__(self, state: OfficialState, layer: str) -> None:
        self.state = state
        self.layer = layer

    def __call__(
        self, attn: Attention, hidden_states: torch.Tensor, *args: object, **kwargs: object
    ) -> torch.Tensor:
        state = self.state
        if state.writing:
            images, tokens = hidden_states.shape[0] // 2, hidden_states.shape[1]
            layer_index = state.schedule.layer_index(self.layer)
            seed = official_story.identity_seed(state.writing)
            indices = state.sampler.indices(seed, 0, layer_index, images, tokens)
            output, bank = official_story.official_write(
                attn, hidden_states, indices.to(hidden_states.device)
            )
            state.banks[state.writing, self.layer] = bank
            return output
        banks = [state.banks[name, self.layer] for name in state.cast]
        return official_story.official_read(attn, hidden_states, banks)


@dataclass
class Inputs:
    """One story's inputs: a latent and [uncond, cond] conditioning per image."""

    story: Story
    identities: dict[str, list[tuple[torch.Tensor, dict]]]
    panels: list[tuple[torch.Tensor, dict]]


def image_inputs(config: dict, size: int, generator: torch.Generator, where: Device) -> tuple:
    """A latent ``[C, h, w]`` and its two guidance halves' conditioning."""
    latent = size // 8
    pooled = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]

    def draw(*shape: int) -> torch.Tensor:
        drawn = torch.randn(*shape, generator=generator)
        return drawn.to(device=where.device, dtype=where.dtype)

    cond = {
        "encoder_hidden_states": draw(2, TEXT_TOKENS, config["cross_attention_dim"]),
        "text_embeds": draw(2, pooled),
    }
    return draw(config["in_channels"], latent, latent), cond


def story_inputs(config: dict, size: int, story: Story, where: Device) -> Inputs:
    generator = torch.Generator().manual_seed(len(story.casts) + len(story.characters))
    identities = {
        name: [image_inputs(config, size, generator, where) for _ in range(IDENTITY_IMAGES)]
        for name in story.characters
    }
    panels = [image_inputs(config, size, generator, where) for _ in story.casts]
    return Inputs(story, identities, panels)


class Runner:
    """UNet calls of one story, each way; outputs ``[2, C, h, w]`` per panel."""

    def __init__(self, unet: UNet2DConditionModel, size: int, where: Device) -> None:
        self.unet = unet
        self.size = size
        self.where = where
        self.layers = consistent_layer_names(unet, ("up_blocks",))
        self.schedule = ConsistencySchedule(
            1, self.layers, frozenset((0, layer) for layer in self.layers)
        )
        self.sampler = TokenSampler(RATE, RATE, size, size)

    def call(self, images: Sequence[tuple[torch.Tensor, dict]]) -> torch.Tensor:
        """One UNet call of ``images`` with guidance: ``[uncond x n; cond x n]``."""
        latents = torch.stack([latent for latent, _ in images])
        conds = [cond for _, cond in images]

        def halves(key: str) -> torch.Tensor:
            return torch.cat([c[key][:1] for c in conds] + [c[key][1:] for c in conds])

        size = self.size
        time_ids = torch.tensor([size, size, 0, 0, size, size], device=latents.device)
        added = {
            "text_embeds": halves("text_embeds"),
            "time_ids": time_ids.to(latents.dtype).expand(2 * len(images), -1),
        }
        timestep = torch.tensor(TIMESTEP, device=latents.device)
        sample = self.unet(
            torch.cat([latents, latents]),
            timestep,
            encoder_hidden_states=halves("encoder_hidden_states"),
            added_cond_kwargs=added,
        ).sample
        return sample.view(2, len(images), *sample.shape[1:])

    def official(self, inputs: Inputs) -> list[torch.Tensor]:
        state = OfficialState(self.schedule, self.sampler)
        layers = set(self.layers)
        processors = {
            name: OfficialProcessor(state, name.removesuffix(".processor"))
            if name.removesuffix(".processor") in layers
            else AttnProcessor2_0()
            for name in self.unet.attn_processors
        }
        originals = self.unet.attn_processors
        self.unet.set_attn_processor(processors)
        try:
            for name, images in inputs.identities.items():
                state.write(name)
                self.call(images)
            outputs = []
            for panel, cast in zip(inputs.panels, inputs.story.casts, strict=True):
                state.read(cast)
                outputs.append(self.call([panel])[:, 0])
            return outputs
        finally:
            self.unet.set_attn_processor(dict(originals))

    def ours(self, inputs: Inputs, lockstep: bool = False) -> list[torch.Tensor]:
        state = ConsistencyState(self.schedule, self.sampler, device=self.where.device)
        outputs = []
        with consistent_attention(self.unet, state):
            caches = {}
            for name, images in inputs.identities.items():
                caches[name] = IdentityCache()
                seed = official_story.identity_seed(name)
                state.begin_write(caches[name], seed=seed, images=len(images))
                self.call(images)
            casts = inputs.story.casts
            for start in range(0, len(casts), WINDOW):
                window = inputs.panels[start : start + WINDOW]
                named = [[caches[n] for n in cast] for cast in casts[start : start + WINDOW]]
                if not lockstep:
                    state.begin_read(named, seed=READ_SEED)
                    out = self.call(window)
                    outputs += [out[:, i] for i in range(len(window))]
                    continue
                state.begin_read(named, seed=READ_SEED, calls_per_step=len(window))
                for i, panel in enumerate(window):
                    state.carry([i])
                    outputs.append(self.call([panel])[:, 0])
        return outputs

    def lockstep(self, inputs: Inputs) -> list[torch.Tensor]:
        return self.ours(inputs, lockstep=True)

    def plain(self, inputs: Inputs) -> list[torch.Tensor]:
        return [self.call([panel])[:, 0] for panel in inputs.panels]

    def ways(self) -> tuple[tuple[str, Callable[[Inputs], list[torch.Tensor]]], ...]:
        return (
            ("official", self.official),
            ("ours", self.ours),
            ("lockstep", self.lockstep),
            ("plain", self.plain),
        )


def relative_error(theirs: Sequence[torch.Tensor], ours: Sequence[torch.Tensor]) -> float:
    """Largest ``|ours - theirs| / |theirs|`` (Frobenius norms, in fp32) over the panels."""
    return max(
        float((b.float() - a.float()).norm() / a.float().norm())
        for a, b in zip(theirs, ours, strict=True)
    )


def check_agreement(runner: Runner, inputs: Inputs) -> float:
    """The worst relative difference of ours and lockstep from official; also a warm-up."""
    official = runner.official(inputs)
    worst = max(relative_error(official, way(inputs)) for way in (runner.ours, runner.lockstep))
    tolerance = 1e-4 if runner.where.dtype == torch.float32 else 3e-2
    if not math.isfinite(worst):
        raise RuntimeError(f"The noise predictions overflow in {runner.where.dtype}: try bfloat16.")
    if worst > tolerance:
        raise RuntimeError(f"The ways disagree by {worst:.1e}: they must compute the same.")
    return worst


@dataclass
class Timing:
    story: Story
    seconds: dict[str, list[float]]
    agreement: float

    def median(self, way: str) -> float:
        return statistics.median(self.seconds[way])


def compare(
    unet: UNet2DConditionModel, config: dict, size: int, rounds: int, where: Device
) -> list[Timing]:
    """Interleaved rounds of every way on both stories, after the agreement check."""
    runner = Runner(unet, size, where)
    timings = []
    with torch.inference_mode():
        for story in STORIES:
            inputs = story_inputs(config, size, story, where)
            timing = Timing(story, {}, check_agreement(runner, inputs))
            runner.plain(inputs)  # warm-up of the plain processors
            ways = runner.ways()
            for round_index in range(rounds):
                for name, way in ways[:: 1 if round_index % 2 == 0 else -1]:
                    seconds = where.timed(way, inputs)
                    timing.seconds.setdefault(name, []).append(seconds)
            timings.append(timing)
    return timings


def report(unet: UNet2DConditionModel, config: dict, size: int, rounds: int, where: Device) -> None:
    """Print the table; last ``story official/ours time ratio, whole UNet: X.XX``."""
    print(
        f"whole stories through the whole UNet at {size} px, one all-consistent step, "
        f"{IDENTITY_IMAGES} identity images, rate {RATE}, windows of {WINDOW}; "
        f"median {where.clock_name} of {rounds} interleaved rounds"
    )
    timings = compare(unet, config, size, rounds, where)
    header = (
        f"{'story':<13} {'official s':>10} {'ours s':>8} {'lockstep s':>10} {'plain s':>8} "
        f"{'o/ours':>7} {'o/lockstep':>10} {'ours/plain':>10} {'rel. diff':>9}"
    )
    print(header)
    print("-" * len(header))
    for t in timings:
        official, ours, lockstep, plain = (
            t.median(way) for way in ("official", "ours", "lockstep", "plain")
        )
        print(
            f"{t.story.name:<13} {official:>10.3f} {ours:>8.3f} {lockstep:>10.3f} {plain:>8.3f} "
            f"{official / ours:>7.2f} {official / lockstep:>10.2f} {ours / plain:>10.2f} "
            f"{t.agreement:>9.1e}"
        )
    total = {way: sum(t.median(way) for t in timings) for way in ("official", "ours", "lockstep")}
    print(
        "story official/ours time ratio, whole UNet, panels in lockstep calls of one panel: "
        f"{total['official'] / total['lockstep']:.2f}"
    )
    print(f"story official/ours time ratio, whole UNet: {total['official'] / total['ours']:.2f}")
