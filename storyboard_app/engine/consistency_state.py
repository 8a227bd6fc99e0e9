"""Explicit state of Consistent Self-Attention for one render.

The official StoryDiffusion code keeps the mode, the current step and the
identity bank in module globals. Here one :class:`ConsistencyState` holds them
and every installed processor reads it: the renderer switches its mode
(WRITE for a character's identity batch, READ for panels, OFF), tells it the
step from ``callback_on_step_end``, and each processor asks it for a
:class:`LayerPlan` saying which tokens its layer shares at this step.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from storyboard_app.engine.identity_cache import IdentityBank, IdentitySink, PrefetchedStep
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.settings import DEFAULT_CONSISTENCY_BLOCKS, ConsistencySettings


class MissingIdentityEntry(StoryboardError):
    """A panel needs a cache entry that its character's identity cache lacks."""


class ConsistencyMode(enum.Enum):
    """What the consistent layers do in the current denoising pass."""

    OFF = "off"
    WRITE = "write"
    READ = "read"


@dataclass(frozen=True)
class ConsistencySchedule:
    """Which (step, layer) pairs use consistent attention, drawn in advance.

    The official code draws this at random while denoising; drawing it from a
    seed before rendering lets an identity cache store only the entries panels
    will read, and makes the identity pass and every panel pass agree. One
    schedule must therefore be shared by all caches and panels of a story.
    """

    steps: int
    layers: tuple[str, ...]
    consistent: frozenset[tuple[int, str]]

    @classmethod
    def draw(
        cls,
        seed: int,
        steps: int,
        layers: Sequence[str],
        *,
        early_probability: float = 0.7,
        late_probability: float = 0.9,
        early_fraction: float = 0.4,
        plain_steps: int = 1,
    ) -> ConsistencySchedule:
        """Plain for ``plain_steps``, then each layer consistent at random.

        The defaults reproduce the official 0.7 for steps 1-19 and 0.9 later
        at 50 steps, scaled to any step count.
        """
        generator = torch.Generator().manual_seed(seed)
        draws = torch.rand(steps, len(layers), generator=generator).tolist()
        early_steps = round(early_fraction * steps)
        chosen = set()
        for step in range(plain_steps, steps):
            probability = early_probability if step < early_steps else late_probability
            chosen.update(
                (step, layer)
                for layer, draw in zip(layers, draws[step], strict=True)
                if draw < probability
            )
        return cls(steps, tuple(layers), frozenset(chosen))

    def is_consistent(self, step: int, layer: str) -> bool:
        return (step, layer) in self.consistent

    def layer_index(self, layer: str) -> int:
        """Position of ``layer``; part of the seed of its sampled tokens."""
        return self._layer_positions[layer]

    def digest(self) -> str:
        """Hash of the schedule, for identity cache keys."""
        text = repr((self.steps, self.layers, sorted(self.consistent)))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @cached_property
    def _layer_positions(self) -> dict[str, int]:
        return {layer: i for i, layer in enumerate(self.layers)}


@dataclass(frozen=True)
class TokenSampler:
    """Draws which tokens of each image other images may see.

    A fixed count k per image (not a per-token coin flip) keeps shapes uniform
    so that all images of a batch are gathered and attended in one call.
    """

    sampling_rate: float
    sampling_rate_high_res: float
    height: int
    width: int

    def rate(self, tokens: int) -> float:
        """Rate of the resolution level a layer with ``tokens`` tokens is at.

        As in the official code, the level with at most (H/32)*(W/32) tokens
        (SDXL's 32x32 at 1024 px) is the low-resolution one.
        """
        low_res_tokens = (self.height // 32) * (self.width // 32)
        return self.sampling_rate if tokens <= low_res_tokens else self.sampling_rate_high_res

    def count(self, tokens: int) -> int:
        """k: tokens sampled from each image."""
        return round(self.rate(tokens) * tokens)

    def indices(
        self, seed: int, step: int, layer_index: int, images: int, tokens: int
    ) -> torch.Tensor:
        """``[images, k]`` token indices, redrawn per step and layer, reproducibly.

        Drawn on a CPU generator so the same seed gives the same tokens on any
        device; the caller moves them where they are used.
        """
        generator = torch.Generator().manual_seed(_derived_seed(seed, step, layer_index))
        k = self.count(tokens)
        rows = [torch.randperm(tokens, generator=generator)[:k] for _ in range(images)]
        return torch.stack(rows) if rows else torch.empty(0, k, dtype=torch.long)


def _derived_seed(seed: int, step: int, layer_index: int) -> int:
    digest = hashlib.sha256(f"{seed}/{step}/{layer_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a small CPU tensor to ``device`` without making the host wait.

    A plain copy to CUDA synchronises the host with the GPU; done in every
    layer it would empty the launch queue and stall the denoising loop.
    """
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@dataclass(frozen=True)
class PanelGroup:
    """Images of a batch that read the same caches (possibly none).

    ``reads`` are positions of the caches read, in the pass's order of caches.
    The index tensors are on the device already, so the attention itself
    launches no blocking host-to-device copy.
    """

    images: tuple[int, ...]
    reads: tuple[int, ...]
    image_index: torch.Tensor
    others: torch.Tensor
    all_images: bool

    @classmethod
    def layout(
        cls,
        images: Sequence[int],
        total: int,
        reads: tuple[int, ...],
        device: torch.device,
        *,
        shared: bool = True,
    ) -> PanelGroup:
        """``images`` of a batch of ``total``; ``others[i]`` are the images image i sees.

        A shared group's images see each other's sampled tokens; an unshared
        one's see only their own tokens and the cached ones.
        """
        others = [[o for o in images if o != image] if shared else [] for image in images]
        width = len(images) - 1 if shared else 0
        others_index = torch.tensor(others, dtype=torch.long).view(len(images), width)
        return cls(
            images=tuple(images),
            reads=reads,
            image_index=to_device(torch.tensor(images, dtype=torch.long), device),
            others=to_device(others_index, device),
            all_images=tuple(images) == tuple(range(total)),
        )

    @property
    def sees_others(self) -> bool:
        return self.others.shape[1] > 0


@dataclass
class _Projection:
    attn: torch.nn.Module
    tokens: tuple[torch.Tensor, ...]
    keys_values: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    calls_left: int

    def fits(self, attn: torch.nn.Module, tokens: tuple[torch.Tensor, ...]) -> bool:
        """Whether this projection was made by ``attn`` from exactly these tensors."""
        return (
            self.attn is attn
            and len(self.tokens) == len(tokens)
            and all(a is b for a, b in zip(self.tokens, tokens, strict=True))
        )


class ProjectionCache:
    """Keys and values of one step's cached tokens, projected once per layer.

    A cache keeps layer inputs (half the bytes of keys and values), so they
    must be projected where they are read. Projected here, once per (step,
    layer), they serve every panel and every group of the layer's call, and
    every further call of the layer in that step that ``calls_per_step``
    announces (both guidance halves are one call). A projection is dropped
    after its last announced call and whenever the step or the pass changes,
    so by default the device holds one layer's projection at a time, as when
    each call projected its own. It is also recomputed when the attention
    module or the cached tensors are not the ones it was made from.
    """

    def __init__(self) -> None:
        self.calls_per_step = 1
        self.projected = 0
        self._step: int | None = None
        self._entries: dict[str, _Projection] = {}

    def reset(self, calls_per_step: int = 1) -> None:
        """Forget every projection; a new pass starts."""
        if calls_per_step < 1:
            raise ValueError("A layer is called at least once per step.")
        self.calls_per_step = calls_per_step
        self._step = None
        self._entries.clear()

    def keys_values(
        self, step: int, layer: str, attn: torch.nn.Module, tokens: tuple[torch.Tensor, ...]
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        """``(to_k(t), to_v(t))`` for each cached tensor, projected at most once a step."""
        if step != self._step:
            self._step = step
            self._entries.clear()
        entry = self._entries.get(layer)
        if entry is None or not entry.fits(attn, tokens):
            pairs = tuple((attn.to_k(t), attn.to_v(t)) for t in tokens)
            self.projected += len(tokens)
            entry = _Projection(attn, tokens, pairs, self.calls_per_step)
        entry.calls_left -= 1
        if entry.calls_left > 0:
            self._entries[layer] = entry
        else:
            self._entries.pop(layer, None)
        return entry.keys_values


@dataclass(frozen=True)
class LayerPlan:
    """What one consistent layer does at the current step.

    Each image of a guidance half attends to its own tokens, to the tokens at
    ``indices`` of the other images of the batch (when its group shares), and
    to the cached tokens of the caches its group reads. ``cached`` holds every
    cache's entry read by the pass, in the pass's order of caches, so that a
    cache read by several groups is projected once; ``record_to`` is the
    identity cache being written, if any.
    """

    step: int
    layer: str
    images: int
    halves: int
    indices: torch.Tensor
    groups: tuple[PanelGroup, ...]
    record_to: IdentitySink | None = None
    cached: tuple[torch.Tensor, ...] = ()
    projections: ProjectionCache | None = None

    def record(self, tokens: torch.Tensor) -> None:
        """Keep the sampled input tokens of every image in the identity cache."""
        if self.record_to is not None:
            self.record_to.put(self.step, self.layer, tokens)

    def cached_keys_values(
        self, attn: torch.nn.Module
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        """Each entry of ``cached`` as keys and values, from the step's projections."""
        if not self.cached:
            return ()
        if self.projections is None:
            return tuple((attn.to_k(t), attn.to_v(t)) for t in self.cached)
        return self.projections.keys_values(self.step, self.layer, attn, self.cached)


class ConsistencyState:
    """Mode, step and caches shared by the consistent processors of one UNet.

    Drive it like this: ``begin_write`` / ``begin_read`` / ``turn_off`` before
    a pipeline call (each starts at step 0), then ``end_step(i)`` from
    ``callback_on_step_end`` after step i (or ``begin_step(i)`` before it).
    """

    def __init__(
        self,
        schedule: ConsistencySchedule,
        sampler: TokenSampler,
        *,
        blocks: Sequence[str] = DEFAULT_CONSISTENCY_BLOCKS,
        window_size: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.schedule = schedule
        self.sampler = sampler
        self.blocks = tuple(blocks)
        self.window_size = window_size
        self.device = torch.device(device)
        self.mode = ConsistencyMode.OFF
        self.step = 0
        self.seed = 0
        self._images = 0
        self._write_cache: IdentitySink | None = None
        self._read_caches: tuple[IdentityBank, ...] = ()
        self._layouts: tuple[PanelGroup, ...] = ()
        self._window: tuple[tuple[tuple[int, ...], tuple[int, ...], bool], ...] = ()
        self._carried: tuple[int, ...] = ()
        self._prefetched: dict[int, list[PrefetchedStep]] = {}
        self._current: list[dict[str, torch.Tensor]] = []
        self.projections = ProjectionCache()

    @classmethod
    def from_settings(
        cls,
        settings: ConsistencySettings,
        schedule: ConsistencySchedule,
        *,
        height: int,
        width: int,
        device: torch.device | str = "cpu",
    ) -> ConsistencyState:
        """A state for a project's consistency settings and image size."""
        sampler = TokenSampler(
            settings.sampling_rate, settings.sampling_rate_high_res, height, width
        )
        return cls(
            schedule,
            sampler,
            blocks=settings.blocks,
            window_size=settings.window_size,
            device=device,
        )

    def begin_write(self, cache: IdentitySink, *, seed: int, images: int) -> None:
        """Denoise a character's identity batch of ``images`` images into ``cache``."""
        if images < 1:
            raise ValueError("An identity batch needs at least one image.")
        self._reset(ConsistencyMode.WRITE, seed, images)
        self._write_cache = cache
        self._layouts = (PanelGroup.layout(range(images), images, (), self.device),)

    def begin_read(
        self,
        panels: Sequence[Sequence[IdentityBank]],
        *,
        seed: int,
        share_between_panels: bool = False,
        calls_per_step: int = 1,
    ) -> None:
        """Denoise a window of panels; ``panels[i]`` are the caches panel i names.

        Each panel attends to its own tokens and its characters' cached ones,
        as in the official read phase, so the window only batches work; a
        panel naming no one attends plainly. With ``share_between_panels``
        panels naming the same characters (at least one) also see each
        other's tokens. Each cache's entry is projected to keys and values
        once per step and layer for the whole window; ``calls_per_step`` is
        how many UNet calls of a step read it (the projection is kept until
        the last).
        """
        if not panels:
            raise ValueError("A read pass needs at least one panel.")
        if self.window_size is not None and len(panels) > self.window_size:
            raise ValueError(f"{len(panels)} panels exceed the window of {self.window_size}.")
        reads = _unique(cache for caches in panels for cache in caches)
        self._reset(ConsistencyMode.READ, seed, len(panels), keep=reads)
        self.projections.reset(calls_per_step)
        self._read_caches = reads
        self._window = tuple(
            (images, reads, share_between_panels and bool(reads))
            for images, reads in _group_panels(panels, self._read_caches)
        )
        self.carry(range(len(panels)))
        self.begin_step(0)

    def carry(self, panels: Iterable[int]) -> None:
        """Say which panels of the window the next UNet calls hold, in batch order.

        A window may be denoised in several UNet calls per step, in lockstep
        (say, one per panel, so each panel's kernels round as in a lone
        render): every call reads the step's projections of the caches, so
        each entry is still projected once per step and layer for the whole
        window when ``calls_per_step`` counts the calls. Panels that see each
        other's tokens must be in the same call.
        """
        if self.mode is not ConsistencyMode.READ:
            raise ValueError("Only a read pass can denoise its panels in several calls.")
        carried = tuple(panels)
        if not carried or len(set(carried)) < len(carried):
            raise ValueError("A call carries one or more distinct panels of the window.")
        if not all(0 <= panel < self._images for panel in carried):
            raise ValueError(f"Panels {carried} are not all in the window of {self._images}.")
        layouts = []
        for images, reads, shared in self._window:
            kept = [carried.index(image) for image in images if image in carried]
            if shared and 0 < len(kept) < len(images):
                raise ValueError("Panels that share tokens must be denoised in the same call.")
            if kept:
                layouts.append(
                    PanelGroup.layout(kept, len(carried), reads, self.device, shared=shared)
                )
        self._carried = carried
        self._layouts = tuple(layouts)

    def turn_off(self) -> None:
        """Plain attention everywhere (e.g. for a transition or a plain render)."""
        self._reset(ConsistencyMode.OFF, 0, 0)

    def begin_step(self, step: int) -> None:
        """Set the denoising step; in READ mode bring its cache entries on device.

        The next step's entries start streaming now, so they arrive while this
        step computes; older steps are dropped so device memory stays flat. In
        WRITE mode the step that ended goes to the cache (to disk when it is a
        writer), so a build holds one step, not the whole cache.
        """
        self.step = step
        self.projections.reset(self.projections.calls_per_step)
        if self.mode is ConsistencyMode.WRITE and self._write_cache is not None and step > 0:
            self._write_cache.end_step(step - 1)
        if self.mode is not ConsistencyMode.READ:
            return
        current = self._prefetched.pop(step, None) or self._prefetch(step)
        self._prefetched = (
            {step + 1: self._prefetch(step + 1)} if step + 1 < self.schedule.steps else {}
        )
        self._current = [prefetched.wait() for prefetched in current]

    def end_step(self, step: int) -> None:
        """Call from ``callback_on_step_end`` with the index of the step that ended."""
        self.begin_step(step + 1)

    def layer_plan(
        self, layer: str, batch_size: int, tokens: int, dtype: torch.dtype, device: torch.device
    ) -> LayerPlan | None:
        """The plan of ``layer`` now, or None when it must attend plainly.

        Plain when the schedule says so, when no token is sampled (rate 0), or
        when no image sees another's tokens or a cache and nothing is recorded.
        """
        if self.mode is ConsistencyMode.OFF or not self.schedule.is_consistent(self.step, layer):
            return None
        if self.sampler.count(tokens) == 0:
            return None
        halves = self._halves(batch_size)
        writing = self.mode is ConsistencyMode.WRITE
        samples = writing or any(group.sees_others for group in self._layouts)
        cached = self._cached_tokens(layer, halves, dtype, device)
        if not (samples or cached):
            return None
        return LayerPlan(
            step=self.step,
            layer=layer,
            images=len(self._carried),
            halves=halves,
            indices=self._sampled_indices(layer, tokens, device if samples else None),
            groups=self._layouts,
            record_to=self._write_cache if writing else None,
            cached=cached,
            projections=self.projections,
        )

    def _sampled_indices(
        self, layer: str, tokens: int, device: torch.device | None
    ) -> torch.Tensor:
        """Tokens each image shows the others; none (no draw at all) when ``device`` is None."""
        if device is None:
            return torch.empty(len(self._carried), 0, dtype=torch.long)
        layer_index = self.schedule.layer_index(layer)
        indices = self.sampler.indices(self.seed, self.step, layer_index, self._images, tokens)
        if self._carried != tuple(range(self._images)):
            indices = indices[list(self._carried)]
        return to_device(indices, device)

    def _reset(
        self, mode: ConsistencyMode, seed: int, images: int, keep: tuple[IdentityBank, ...] = ()
    ) -> None:
        """Start a pass; caches the last pass read and this one does not give back
        their staging memory, so host memory follows the characters being read."""
        for cache in self._read_caches:
            release = getattr(cache, "release", None)
            if release is not None and not any(cache is kept for kept in keep):
                release()
        self.mode = mode
        self.seed = seed
        self.step = 0
        self._images = images
        self._carried = tuple(range(images))
        self._write_cache = None
        self._read_caches = ()
        self._layouts = ()
        self._window = ()
        self._prefetched = {}
        self._current = []
        self.projections.reset()

    def _prefetch(self, step: int) -> list[PrefetchedStep]:
        return [cache.prefetch(step, self.device) for cache in self._read_caches]

    def _halves(self, batch_size: int) -> int:
        """1 without classifier-free guidance, 2 with it ([uncond x B; cond x B])."""
        images = len(self._carried)
        halves, rest = divmod(batch_size, images)
        if rest or halves not in (1, 2):
            raise ValueError(
                f"A batch of {batch_size} does not hold the {images} images of this "
                "pass once or twice (with classifier-free guidance)."
            )
        return halves

    def _cached_tokens(
        self, layer: str, halves: int, dtype: torch.dtype, device: torch.device
    ) -> tuple[torch.Tensor, ...]:
        """This step's entry of ``layer`` of every cache the pass reads, on ``device``.

        Kept apart, never concatenated here: each is projected once and the
        attention joins the projections into the one key sequence it builds.
        """
        parts = []
        for entries in self._current:
            entry = entries.get(layer)
            if entry is None:
                raise MissingIdentityEntry(
                    f"An identity cache has no entry for step {self.step}, layer {layer}.",
                    "It was built with other settings or another schedule: rebuild it.",
                )
            if entry.shape[0] != halves:
                raise ValueError(
                    "The identity cache and the panel batch disagree on classifier-free guidance."
                )
            parts.append(entry.to(device=device, dtype=dtype))
        return tuple(parts)


def _unique(caches: Iterable[IdentityBank]) -> tuple[IdentityBank, ...]:
    """Caches in first-seen order, each once (compared by identity)."""
    seen: dict[int, IdentityBank] = {}
    for cache in caches:
        seen.setdefault(id(cache), cache)
    return tuple(seen.values())


def _group_panels(
    panels: Sequence[Sequence[IdentityBank]], caches: tuple[IdentityBank, ...]
) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Panels grouped by the set of caches they name, as (panels, cache positions)."""
    position = {id(cache): i for i, cache in enumerate(caches)}
    groups: dict[tuple[int, ...], list[int]] = {}
    for panel, named in enumerate(panels):
        key = tuple(sorted({position[id(cache)] for cache in named}))
        groups.setdefault(key, []).append(panel)
    return tuple((tuple(images), positions) for positions, images in groups.items())
